using System.Net;
using PartialReplica.Authn;
using PartialReplica.Tests.Infrastructure;
using StackExchange.Redis;

namespace PartialReplica.Tests.Redis;

/// <summary>
/// F14 / R5 (issue 26): Redis killed under a gateway (SIGKILL, for real) costs nothing but the sharing. The gateway
/// keeps authenticating with per-process limits and keeps pushing, <c>/health/ready</c> says Degraded (200) naming
/// redis, the outage is logged once; started again, Redis is used again and readiness is Healthy.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RedisOutageTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";

    [Fact]
    public async Task Redis_killed_leaves_authentication_and_pushes_working_and_readiness_degraded_until_it_is_back()
    {
        // A password the gateway must never write anywhere, the outage's errors included.
        var password = "redis-" + Guid.NewGuid().ToString("N");
        await using var world = await TestWorld.On(fixture).DemoPolicy().Secret(BillingDb, "before the outage").Redis(password).StartAsync();
        var (leader, redis) = (world.Leader, world.Redis!);
        await using var gateway = await RedisGateway.StartAsync(leader, redis, new Dictionary<string, string?>
        {
            ["Dispatch:Enabled"] = "true",
            ["Gateway:AuthenticationLimits:FailuresPerLogin"] = "2",
            ["Gateway:AuthenticationLimits:Window"] = "00:01:00",
        });
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "redis_outage");
        await world.AddInProcessFollowerAsync(East, follower, gateway.Url);

        await AwaitSecretAsync(leader, follower);
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await gateway.ReadyAsync());

        await redis.KillAsync();

        // Readiness: Degraded, still 200 so load balancers keep the gateway, naming redis.
        await Eventually.HoldsAsync(async () => await gateway.ReadyAsync() is (HttpStatusCode.OK, "Degraded"), "readiness turns Degraded");
        var (_, ready) = await gateway.ReadyTextAsync();
        Assert.Contains("\nredis: Degraded: redis unreachable", ready, StringComparison.Ordinal);

        // Authentication works, with this gateway's own limits: two wrong keys pass as 401, the third is over the limit.
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync("admin", ApiKeys.Generate())).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync("admin", ApiKeys.Generate())).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await gateway.AuthenticateAsync("admin", ApiKeys.Generate())).Status);
        var admin = await gateway.TokenAsync("admin", world.AdminApiKey);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, "/followers", admin)).Status);

        // A rotation during the outage is refused here at once, and kept to be shared when Redis is back.
        var eastRole = "default:host:" + East;
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Put, "/authn/default/api_key?role=" + Uri.EscapeDataString(eastRole), admin)).Status);
        Assert.Contains(gateway.Logs.Entries, e => e.EventId.Id == 2823);

        // Pushes go on.
        await world.SetSecretAsync(BillingDb, "during the outage");
        await AwaitSecretAsync(leader, follower);
        Assert.Single(gateway.Logs.Entries, e => e.EventId.Id == 2820);

        await redis.StartAgainAsync();
        await Eventually.HoldsAsync(async () => await gateway.ReadyAsync() is (HttpStatusCode.OK, "Healthy"), "readiness is Healthy again");
        Assert.Single(gateway.Logs.Entries, e => e.EventId.Id == 2821);
        Assert.Single(gateway.Logs.Entries, e => e.EventId.Id == 2820);

        // Shared again: failures count in the restarted (empty) Redis, and the outage's rotation was written there.
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync("admin", ApiKeys.Generate())).Status);
        await using var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        Assert.DoesNotContain(gateway.Logs.Entries, e => (e.Message + e.Exception).Contains(password, StringComparison.Ordinal));
        var server = direct.GetServer(direct.GetEndPoints().Single());
        Assert.Single(server.Keys(pattern: "partial-replica:*:authn-failures:login:admin"));
        await Eventually.HoldsAsync(async () => await direct.GetDatabase().KeyExistsAsync($"partial-replica:partial-replica-gateway:default:denied-tokens:{eastRole}"),
            "the denial made during the outage is written to Redis once it answers");
        await world.SetSecretAsync(BillingDb, "after the outage");
        await AwaitSecretAsync(leader, follower);
    }

    /// <summary>Waits until the follower holds the leader's latest version of the billing password, byte for byte.</summary>
    private static Task AwaitSecretAsync(string leader, string follower) =>
        Eventually.HoldsAsync(async () =>
        {
            const string latest = "SELECT version || '#' || encode(value, 'hex') FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1";
            var expected = await Db.ScalarAsync<string>(leader, latest, BillingDb);
            return expected is not null && expected == await Db.ScalarAsync<string>(follower, latest, BillingDb);
        }, "the follower holds the leader's latest billing password");
}
