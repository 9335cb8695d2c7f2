using System.Net;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Redis;

/// <summary>
/// F14 / S5 (issue 26): with <c>Gateway:Redis</c> the failed-authentication limits count across every gateway sharing
/// it, with the same windows and Retry-After as one gateway; without it each gateway counts its own.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class SharedAuthenticationLimitTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Failures_spread_over_two_gateways_reach_the_login_limit_together()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var redis = await RedisServer.StartAsync();
        var limits = Limits(failuresPerLogin: 4, failuresPerAddress: 1000);
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis, limits);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis, limits);
        var login = "host/" + follower.Name;

        // Four failures, two on each gateway: none over the limit yet.
        foreach (var gateway in new[] { a, b, a, b })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync(login, ApiKeys.Generate())).Status);
        }

        // The fifth, on either gateway, is over it: 429 with what is left of the one shared window.
        var limited = await b.AuthenticateAsync(login, ApiKeys.Generate());
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.InRange(limited.RetryAfterSeconds!.Value, 1, 60);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.AuthenticateAsync(login, ApiKeys.Generate())).Status);

        // Nobody locks a login out: its right key still works on both.
        Assert.Equal(HttpStatusCode.OK, (await a.AuthenticateAsync(login, follower.ApiKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await b.AuthenticateAsync(login, follower.ApiKey)).Status);
        // The limit was announced once for the tier, by the gateway that counted the failure over it.
        Assert.Single(a.Logs.Entries.Concat(b.Logs.Entries), e => e.EventId.Id == 2541);
        // Each gateway sums up what it saw, at the end of its window (here, at its stop).
        await a.DisposeAsync();
        await b.DisposeAsync();
        Assert.Equal(3L, a.Logs.Entries.Where(e => e.EventId.Id == 2540).Sum(e => (long)e.State["Failures"]!));
        Assert.Equal(3L, b.Logs.Entries.Where(e => e.EventId.Id == 2540).Sum(e => (long)e.State["Failures"]!));
    }

    [Fact]
    public async Task Failures_from_one_address_spread_over_two_gateways_refuse_it_on_both()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var redis = await RedisServer.StartAsync();
        var limits = Limits(failuresPerLogin: 1000, failuresPerAddress: 3);
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis, limits);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis, limits);

        foreach (var gateway in new[] { a, b, a })
        {
            var nobody = "host/conjur/followers/" + GatewayFixture.Unique("nobody");
            Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync(nobody, ApiKeys.Generate())).Status);
        }

        // The address has used its failures: refused outright on both, even with the right key.
        var refused = await b.AuthenticateAsync("host/" + follower.Name, follower.ApiKey);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.InRange(refused.RetryAfterSeconds!.Value, 1, 60);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.AuthenticateAsync("host/" + follower.Name, follower.ApiKey)).Status);
    }

    [Fact]
    public async Task Without_Redis_each_gateway_counts_its_own_failures()
    {
        var follower = await fixture.AddFollowerAsync();
        var limits = Limits(failuresPerLogin: 2, failuresPerAddress: 1000);
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis: null, limits);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis: null, limits);
        var login = "host/" + follower.Name;

        foreach (var gateway in new[] { a, b, a, b })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.AuthenticateAsync(login, ApiKeys.Generate())).Status);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.AuthenticateAsync(login, ApiKeys.Generate())).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await b.AuthenticateAsync(login, ApiKeys.Generate())).Status);
    }

    internal static Dictionary<string, string?> Limits(int failuresPerLogin, int failuresPerAddress) => new()
    {
        ["Gateway:AuthenticationLimits:FailuresPerLogin"] = failuresPerLogin.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:AuthenticationLimits:FailuresPerAddress"] = failuresPerAddress.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:AuthenticationLimits:Window"] = "00:01:00",
    };
}
