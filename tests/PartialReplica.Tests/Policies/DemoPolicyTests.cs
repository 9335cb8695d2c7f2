using System.Text.Json;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>policies/demo.yml loads and grants each demo follower exactly what its comment promises.</summary>
[Collection(PolicyCollection.Name)]
public sealed class DemoPolicyTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Demo_policy_grants_east_and_west_their_overlapping_sets_and_nobody_the_reports_key()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var result = await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"), file: "demo.yml");

        Assert.Equal(1, result.Version);
        Assert.Equal(["default:host:conjur/followers/east-1", "default:host:conjur/followers/west-1"], result.CreatedRoles.Keys.Order(StringComparer.Ordinal));
        Assert.All(result.CreatedRoles.Values, r => Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, r.ApiKey));
        var json = JsonSerializer.Serialize(result);
        Assert.Matches("""^\{"created_roles":\{"default:host:conjur/followers/east-1":\{"id":"default:host:conjur/followers/east-1","api_key":"(?:[0-9a-hjkmnp-tv-z]{1,7}){8}"\}""", json);
        Assert.EndsWith(""","version":1}""", json);

        await db.RegisterFollowerAsync("conjur/followers/east-1");
        await db.RegisterFollowerAsync("conjur/followers/west-1");
        string[] billing = ["default:variable:apps/billing/api/token", "default:variable:apps/billing/db/password"];
        Assert.Equal([.. billing, "default:variable:apps/inventory/db/password"], await db.GrantedAsync("conjur/followers/east-1"));
        Assert.Equal(billing, await db.GrantedAsync("conjur/followers/west-1"));
        Assert.Equal(await db.GrantedAsync("conjur/followers/east-1"), await db.MaterialisedAsync("conjur/followers/east-1"));
        Assert.Equal(await db.GrantedAsync("conjur/followers/west-1"), await db.MaterialisedAsync("conjur/followers/west-1"));
        Assert.Equal("password", await Db.ScalarAsync<string>(db.ConnectionString,
            "SELECT value FROM annotations WHERE resource_id = 'default:variable:apps/billing/db/password' AND name = 'conjur/kind'"));
    }

    [Fact]
    public async Task Template_loads_once_its_name_is_filled_in()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var template = PolicyDatabase.RepositoryPolicy("replica-sets.yml").Replace("NAME", "full", StringComparison.Ordinal);
        await db.LoadAsync(template);
        await db.LoadAsync("- !host f1\n- !variable a\n- !grant\n  role: !layer conjur/replication-sets/full/followers\n  member: !host f1\n");
        await db.RegisterFollowerAsync("f1");
        Assert.Equal(["default:variable:a"], await db.MaterialisedAsync("f1"));
    }
}
