using Npgsql;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>F5: a load that changes a follower's granted set reports it and queues it in the outbox, with a wake-up.</summary>
[Collection(PolicyCollection.Name)]
public sealed class GrantChangeTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";

    [Fact]
    public async Task Load_reports_and_queues_each_followers_added_and_removed_variables()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.RegisterFollowerAsync(East);
        await db.RegisterFollowerAsync(West);

        var first = await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        Assert.Equal([East, West], first.GrantChanges.Select(c => c.Follower));
        Assert.Equal(3, first.GrantChanges[0].Added.Count);
        Assert.Equal(2, first.GrantChanges[1].Added.Count);

        await using var listener = new NpgsqlConnection(db.ConnectionString);
        await listener.OpenAsync();
        var notified = 0;
        listener.Notification += (_, e) => notified += e.Payload.Length == 0 ? 1 : 1000;
        await using (var listen = new NpgsqlCommand("LISTEN partial_replica_changes", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        var maxBefore = await Db.ScalarAsync<long>(db.ConnectionString, "SELECT coalesce(max(change_id), 0) FROM partial_replica.changes");
        var second = await db.LoadAsync("""
            - !revoke
              role: !group apps/billing-readers
              member: !group conjur/replication-sets/west/replicated-data
            - !permit
              role: !group conjur/replication-sets/west/replicated-data
              privilege: execute
              resource: !variable apps/inventory/reports/key
            """, PolicyMode.Update);

        var change = Assert.Single(second.GrantChanges);
        Assert.Equal(West, change.Follower);
        Assert.Equal(["default:variable:apps/inventory/reports/key"], change.Added);
        Assert.Equal(["default:variable:apps/billing/api/token", "default:variable:apps/billing/db/password"], change.Removed);

        var outbox = await Db.ColumnAsync(db.ConnectionString,
            "SELECT kind || ' ' || follower || ' ' || resource_id FROM partial_replica.changes WHERE change_id > $1 ORDER BY 1", maxBefore);
        Assert.Equal(
            [
                $"grant {West} default:variable:apps/inventory/reports/key",
                $"revoke {West} default:variable:apps/billing/api/token",
                $"revoke {West} default:variable:apps/billing/db/password",
            ],
            outbox);
        await Eventually.HoldsAsync(async () =>
        {
            await listener.WaitAsync(TimeSpan.FromMilliseconds(100));
            return notified > 0;
        }, "a wake-up on partial_replica_changes");
        Assert.True(notified < 1000, "the notification payload must be empty");
        Assert.Equal(await db.GrantedAsync(West), await db.MaterialisedAsync(West));
    }

    [Fact]
    public async Task Load_that_changes_no_grant_queues_nothing()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        await db.RegisterFollowerAsync(East);
        var before = await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM partial_replica.changes");

        var result = await db.LoadAsync("- !variable apps/unrelated\n");

        Assert.Empty(result.GrantChanges);
        Assert.Equal(before, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM partial_replica.changes"));
    }
}
