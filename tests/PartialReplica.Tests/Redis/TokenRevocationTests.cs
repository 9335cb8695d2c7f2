using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Web.Gateway.SharedState;

namespace PartialReplica.Tests.Redis;

/// <summary>
/// F14 / S1 (issue 26): a role whose API key is rotated, or a follower removed, has the tokens issued before that
/// refused at once — by the one gateway that did it without Redis, by every gateway sharing a Redis with it — while
/// a token bought with the new key works at once.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class TokenRevocationTests(GatewayFixture fixture)
{
    private const string Whoami = "/edge/secrets/default";

    [Fact]
    public async Task Without_Redis_a_rotated_key_s_old_token_is_refused_by_the_gateway_that_rotated_it()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var gateway = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var login = "host/" + follower.Name;
        var old = await gateway.TokenAsync(login, follower.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, Whoami, old)).Status);

        var (status, newKey) = await gateway.SendAsync(HttpMethod.Put, "/authn/default/api_key", old);
        Assert.Equal(HttpStatusCode.OK, status);

        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.SendAsync(HttpMethod.Get, Whoami, old)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync(login, follower.ApiKey)).Status);
        // The new key buys a token that works at once, even within the second of the rotation.
        var fresh = await gateway.TokenAsync(login, newKey);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, Whoami, fresh)).Status);
        Assert.Contains(gateway.Logs.Entries, e => e.EventId.Id == 2003 && e.Message.Contains("revoked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_Redis_a_removed_follower_s_token_is_refused_by_the_gateway_that_removed_it()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var gateway = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var token = await gateway.TokenAsync("host/" + follower.Name, follower.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, Whoami, token)).Status);

        var admin = await gateway.TokenAsync("admin", fixture.AdminApiKey);
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.SendAsync(HttpMethod.Delete, "/followers/" + Uri.EscapeDataString(follower.Name), admin)).Status);

        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.SendAsync(HttpMethod.Get, Whoami, token)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.SendAsync(HttpMethod.Get, "/followers/" + Uri.EscapeDataString(follower.Name), admin)).Status);
        Assert.Contains(gateway.Logs.Entries, e => e.EventId.Id == 2826 && (string)e.State["Follower"]! == follower.Name);
    }

    [Fact]
    public async Task With_Redis_a_key_rotated_on_one_gateway_refuses_the_old_token_on_another_at_once()
    {
        var follower = await fixture.AddFollowerAsync();
        var bystander = await fixture.AddFollowerAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis);
        var login = "host/" + follower.Name;
        var old = await b.TokenAsync(login, follower.ApiKey);
        var other = await b.TokenAsync("host/" + bystander.Name, bystander.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await b.SendAsync(HttpMethod.Get, Whoami, old)).Status);

        // The admin rotates the follower's key on A.
        var admin = await a.TokenAsync("admin", fixture.AdminApiKey);
        var (status, newKey) = await a.SendAsync(HttpMethod.Put, "/authn/default/api_key?role=" + Uri.EscapeDataString(follower.RoleId), admin);
        Assert.Equal(HttpStatusCode.OK, status);

        // B refuses the old token on its very next request, not after some refresh.
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.SendAsync(HttpMethod.Get, Whoami, old)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.SendAsync(HttpMethod.Get, Whoami, old)).Status);
        Assert.Equal(HttpStatusCode.OK, (await b.SendAsync(HttpMethod.Get, Whoami, other)).Status);
        var fresh = await b.TokenAsync(login, newKey);
        Assert.Equal(HttpStatusCode.OK, (await a.SendAsync(HttpMethod.Get, Whoami, fresh)).Status);
        Assert.Equal(HttpStatusCode.OK, (await b.SendAsync(HttpMethod.Get, Whoami, fresh)).Status);
    }

    [Fact]
    public async Task With_Redis_a_follower_removed_on_one_gateway_has_its_tokens_refused_on_another_and_every_gateway_is_woken()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis);
        var wakeups = 0;
        b.Services.GetRequiredService<FollowerChangeBroadcast>().Changed += () => Interlocked.Increment(ref wakeups);
        var token = await b.TokenAsync("host/" + follower.Name, follower.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await b.SendAsync(HttpMethod.Get, Whoami, token)).Status);

        var admin = await a.TokenAsync("admin", fixture.AdminApiKey);
        Assert.Equal(HttpStatusCode.NotFound, (await a.SendAsync(HttpMethod.Delete, "/followers/conjur/followers/nobody-here", admin)).Status);
        var (status, _) = await a.SendAsync(HttpMethod.Delete, "/followers/" + follower.Name, admin);
        Assert.Equal(HttpStatusCode.NoContent, status);

        Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM partial_replica.followers WHERE name = $1", follower.Name));
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.SendAsync(HttpMethod.Get, Whoami, token)).Status);
        // B's dispatcher is told over Redis to re-read the followers (the pub/sub message, not the leader's NOTIFY).
        await Eventually.HoldsAsync(() => Task.FromResult(Volatile.Read(ref wakeups) > 0), "gateway B hears of the removal on A", TimeSpan.FromSeconds(5));
    }
}
