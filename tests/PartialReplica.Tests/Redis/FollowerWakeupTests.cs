using PartialReplica.Leader.Dispatch;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Redis;

/// <summary>
/// F14 (issue 26): a follower change made through one gateway wakes every gateway's dispatcher over Redis. The
/// leader's NOTIFY on the followers table is switched off and the periodic refresh set to ten minutes, so the only
/// way gateway B learns of a follower registered meanwhile is gateway A's wake-up.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class FollowerWakeupTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";

    [Fact]
    public async Task A_follower_removed_through_one_gateway_has_every_gateway_re_read_the_followers()
    {
        await using var world = await TestWorld.On(fixture).DemoPolicy().Secret(BillingDb, "pushed").Redis().StartAsync();
        var leader = world.Leader;
        await Db.ExecuteAsync(leader, "ALTER TABLE partial_replica.followers DISABLE TRIGGER followers_changed");
        // A follower for A to remove: registered only, no agent.
        const string Leaving = "conjur/followers/leaving";
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ($1)", "default:host:" + Leaving);
        await Db.ExecuteAsync(leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, 'pr_leaving')", Leaving, "default:host:" + Leaving);

        await using var a = await RedisGateway.StartAsync(leader, world.Redis);
        await using var b = await RedisGateway.StartAsync(leader, world.Redis, new Dictionary<string, string?>
        {
            ["Dispatch:Enabled"] = "true",
            ["Dispatch:FollowersRefreshInterval"] = "00:10:00",
        });
        // B has read the followers at start and after its LISTEN connected (it re-reads then): from here it learns only by a wake-up.
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", Dispatcher.ListenApplicationName) == 1,
            "gateway B listens on the leader");

        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "wakeup");
        await world.AddInProcessFollowerAsync(East, follower, b.Url);

        var admin = await a.TokenAsync("admin", world.AdminApiKey);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await a.SendAsync(HttpMethod.Delete, "/followers/" + Leaving, admin)).Status);

        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets WHERE resource_id = $1", BillingDb) == 1,
            "gateway B, woken over Redis, serves the new follower", TimeSpan.FromSeconds(60));
    }
}
