using PartialReplica.Grants;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.Explain;

/// <summary>
/// SPEC F12 on the demo policy: explain names, per replica set, the exact chain of memberships and permissions that
/// grants a variable, or the nearest missing link, and says which of the two ids is unknown.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ExplainTests(ReplicationFixture fixture)
{
    private const string East = "default:host:conjur/followers/east-1";
    private const string West = "default:host:conjur/followers/west-1";
    private const string EastLayer = "default:layer:conjur/replication-sets/east/followers";
    private const string WestLayer = "default:layer:conjur/replication-sets/west/followers";
    private const string EastSet = "default:webservice:conjur/replication-sets/east";
    private const string WestSet = "default:webservice:conjur/replication-sets/west";
    private const string EastData = "default:group:conjur/replication-sets/east/replicated-data";
    private const string WestData = "default:group:conjur/replication-sets/west/replicated-data";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string InventoryDb = "default:variable:apps/inventory/db/password";
    private const string ReportsKey = "default:variable:apps/inventory/reports/key";

    [Fact]
    public async Task Granted_variable_shows_each_sets_chain_and_the_other_sets_missing_membership()
    {
        var db = await DemoAsync();

        var explanation = await ExplainAsync(db, "conjur/followers/east-1", BillingDb);

        Assert.Equal(East, explanation.Follower);
        Assert.Equal(BillingDb, explanation.Variable);
        Assert.True(explanation.Granted);
        Assert.Equal(2, explanation.ReplicaSets.Count);
        AssertSet(explanation.ReplicaSets[0], "east", true,
        [
            $"{East} is a member of {EastLayer}",
            $"{EastLayer} may replicate {EastSet}",
            $"{EastData} is a member of default:group:apps/secrets-readers",
            "default:group:apps/secrets-readers is a member of default:group:apps/billing-readers",
            $"default:group:apps/billing-readers may execute {BillingDb}",
        ], null);
        AssertSet(explanation.ReplicaSets[1], "west", false, [], $"{East} is not a member of {WestLayer}");
    }

    [Fact]
    public async Task Nested_layers_reach_the_set_and_the_missing_link_is_replicated_datas_membership()
    {
        var db = await DemoAsync();

        var explanation = await ExplainAsync(db, "conjur/followers/west-1", "apps/inventory/db/password");

        Assert.False(explanation.Granted);
        Assert.Equal(InventoryDb, explanation.Variable);
        AssertSet(explanation.ReplicaSets[0], "east", false, [], $"{West} is not a member of {EastLayer}");
        AssertSet(explanation.ReplicaSets[1], "west", false,
        [
            $"{West} is a member of default:layer:conjur/followers/west-hosts",
            $"default:layer:conjur/followers/west-hosts is a member of {WestLayer}",
            $"{WestLayer} may replicate {WestSet}",
        ], $"{WestData} is not a member of default:group:apps/secrets-readers, which may execute {InventoryDb}");
    }

    [Fact]
    public async Task A_variable_no_role_may_execute_is_the_missing_link_of_every_set_the_follower_replicates()
    {
        var db = await DemoAsync();

        var explanation = await ExplainAsync(db, "conjur/followers/east-1", ReportsKey);

        Assert.False(explanation.Granted);
        AssertSet(explanation.ReplicaSets[0], "east", false,
            [$"{East} is a member of {EastLayer}", $"{EastLayer} may replicate {EastSet}"], $"no role may execute {ReportsKey}");
        AssertSet(explanation.ReplicaSets[1], "west", false, [], $"{East} is not a member of {WestLayer}");
    }

    [Fact]
    public async Task Full_set_carries_every_variable_and_an_owner_counts_as_a_member()
    {
        var db = await DemoAsync();
        await db.LoadAsync("""
            - !policy
              id: conjur/replication-sets/full
              body:
              - !webservice
              - !group replicated-data
              - !layer followers
              - !permit
                role: !layer followers
                privilege: replicate
                resource: !webservice
            """);
        // The host owns the full set's followers layer: Conjur makes an owner a member of what it owns.
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO role_memberships (role_id, member_id, ownership) VALUES ($1, $2, true)",
            "default:layer:conjur/replication-sets/full/followers", West);

        var explanation = await ExplainAsync(db, "conjur/followers/west-1", ReportsKey);

        Assert.True(explanation.Granted);
        Assert.Equal(["east", "full", "west"], explanation.ReplicaSets.Select(s => s.Name));
        AssertSet(explanation.ReplicaSets[1], "full", true,
        [
            $"{West} owns default:layer:conjur/replication-sets/full/followers (an owner is a member of what it owns)",
            "default:layer:conjur/replication-sets/full/followers may replicate default:webservice:conjur/replication-sets/full",
            "the replica set full carries every variable of account default",
        ], null);
        Assert.Contains(ReportsKey, await db.MaterialisedAsync("conjur/followers/west-1"));
    }

    [Fact]
    public async Task Unknown_follower_or_variable_is_named_and_a_non_variable_id_is_refused()
    {
        var db = await DemoAsync();
        await using var connection = await db.DataSource.OpenConnectionAsync();

        var noFollower = await GrantExplainer.ExplainAsync(connection, "default", "conjur/followers/nobody", BillingDb, CancellationToken.None);
        var noVariable = await GrantExplainer.ExplainAsync(connection, "default", "conjur/followers/east-1", "apps/nothing", CancellationToken.None);
        var webservice = await Assert.ThrowsAsync<PartialReplicaException>(() =>
            GrantExplainer.ExplainAsync(connection, "default", "conjur/followers/east-1", EastSet, CancellationToken.None));

        Assert.Equal("No follower named 'conjur/followers/nobody' is registered.", Assert.IsType<ExplainResult.UnknownFollower>(noFollower).Message);
        Assert.Equal("No variable 'default:variable:apps/nothing' exists on the leader.", Assert.IsType<ExplainResult.UnknownVariable>(noVariable).Message);
        Assert.Equal($"'{EastSet}' is a webservice, not a variable; explain takes a variable id.", webservice.Message);
    }

    private async Task<PolicyDatabase> DemoAsync()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        await db.RegisterFollowerAsync("conjur/followers/east-1");
        await db.RegisterFollowerAsync("conjur/followers/west-1");
        return db;
    }

    private static async Task<GrantExplanation> ExplainAsync(PolicyDatabase db, string follower, string variable)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        var answer = await GrantExplainer.ExplainAsync(connection, "default", follower, variable, CancellationToken.None);
        return Assert.IsType<ExplainResult.Explained>(answer).Explanation;
    }

    private static void AssertSet(ReplicaSetExplanation set, string name, bool granted, string[] chain, string? missing)
    {
        Assert.Equal(name, set.Name);
        Assert.Equal(granted, set.Granted);
        Assert.Equal(chain, set.Chain);
        Assert.Equal(missing, set.Missing);
    }
}
