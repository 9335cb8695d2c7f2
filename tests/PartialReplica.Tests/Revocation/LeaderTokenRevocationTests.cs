using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Redis;
using PartialReplica.Web.Gateway.Authentication;
using Xunit.Abstractions;

namespace PartialReplica.Tests.Revocation;

/// <summary>
/// Issue 26 (SPEC S1, F14): a key rotated or a follower removed straight in the leader's database — by Conjur itself
/// (plain SQL on credentials) or by the CLI's <c>follower remove</c> — has the tokens issued before refused by every
/// gateway within <see cref="Bound"/>, without Redis: the leader records it (the leader baseline) and each gateway's
/// <see cref="LeaderTokenRevocationFeed"/> reads it (LISTEN, and a poll when the LISTEN connection is lost).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class LeaderTokenRevocationTests(GatewayFixture fixture, ITestOutputHelper output)
{
    private const string Whoami = "/edge/secrets/default";

    /// <summary>How soon every gateway refuses the old tokens (the poll is 2 s; a notification takes milliseconds).</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_key_rotated_by_plain_SQL_is_refused_by_every_gateway_and_the_new_key_s_token_works_at_once()
    {
        var follower = await fixture.AddFollowerAsync();
        var bystander = await fixture.AddFollowerAsync();
        await using var a = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        await using var b = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var login = "host/" + follower.Name;
        var oldOnA = await a.TokenAsync(login, follower.ApiKey);
        var oldOnB = await b.TokenAsync(login, follower.ApiKey);
        var other = await b.TokenAsync("host/" + bystander.Name, bystander.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await a.SendAsync(HttpMethod.Get, Whoami, oldOnB)).Status);

        // As Conjur rotates: its own UPDATE of credentials.api_key, a Slosilo blob under the data key.
        var newKey = ApiKeys.Generate();
        var rotated = Stopwatch.StartNew();
        await RotateBySqlAsync(follower.RoleId, newKey);
        // Authenticating with the new key at once buys a token no denial learned a moment later covers.
        var fresh = await b.TokenAsync(login, newKey);

        await Eventually.HoldsAsync(async () =>
            (await a.SendAsync(HttpMethod.Get, Whoami, oldOnA)).Status == HttpStatusCode.Unauthorized
            && (await a.SendAsync(HttpMethod.Get, Whoami, oldOnB)).Status == HttpStatusCode.Unauthorized
            && (await b.SendAsync(HttpMethod.Get, Whoami, oldOnA)).Status == HttpStatusCode.Unauthorized
            && (await b.SendAsync(HttpMethod.Get, Whoami, oldOnB)).Status == HttpStatusCode.Unauthorized,
            "both gateways refuse the old tokens", Bound);
        output.WriteLine($"old tokens refused on both gateways {rotated.Elapsed.TotalMilliseconds:F0} ms after the rotation committed (an upper bound: the new key's authentication in between waits for the next whole second)");

        Assert.Equal(HttpStatusCode.Unauthorized, (await a.AuthenticateAsync(login, follower.ApiKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await a.SendAsync(HttpMethod.Get, Whoami, fresh)).Status);
        Assert.Equal(HttpStatusCode.OK, (await b.SendAsync(HttpMethod.Get, Whoami, fresh)).Status);
        Assert.Equal(HttpStatusCode.OK, (await a.SendAsync(HttpMethod.Get, Whoami, other)).Status);
        Assert.Contains(a.Logs.Entries, e => e.EventId.Id == 2880 && (string)e.State["Role"]! == follower.RoleId);
    }

    [Fact]
    public async Task A_gateway_started_after_a_rotation_refuses_the_old_token()
    {
        var follower = await fixture.AddFollowerAsync();
        var old = follower.Token; // issued by the fixture's gateway before the rotation
        await RotateBySqlAsync(follower.RoleId, ApiKeys.Generate());

        await using var late = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        await late.Services.GetRequiredService<LeaderTokenRevocationFeed>().Loaded.WaitAsync(Eventually.DefaultDeadline);
        Assert.Equal(HttpStatusCode.Unauthorized, (await late.SendAsync(HttpMethod.Get, Whoami, old)).Status);
    }

    [Fact]
    public async Task Cli_follower_remove_has_the_follower_s_token_refused_by_the_gateway()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var gateway = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var token = await gateway.TokenAsync("host/" + follower.Name, follower.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, Whoami, token)).Status);

        var remove = await CliProcess.RunAsync(
            new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = fixture.Leader }, "follower", "remove", "--name", follower.Name);
        Assert.True(remove.ExitCode == 0, remove.Stderr);
        var removed = Stopwatch.StartNew();

        await Eventually.HoldsAsync(
            async () => (await gateway.SendAsync(HttpMethod.Get, Whoami, token)).Status == HttpStatusCode.Unauthorized,
            "the gateway refuses the removed follower's token", Bound);
        output.WriteLine($"token refused {removed.Elapsed.TotalMilliseconds:F0} ms after the CLI returned");
        Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM partial_replica.followers WHERE name = $1", follower.Name));
    }

    [Fact]
    public async Task A_rotation_is_still_seen_after_the_listen_connection_is_terminated()
    {
        var follower = await fixture.AddFollowerAsync();
        await using var gateway = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var feed = gateway.Services.GetRequiredService<LeaderTokenRevocationFeed>();
        await feed.Listening.WaitAsync(Eventually.DefaultDeadline);
        var token = await gateway.TokenAsync("host/" + follower.Name, follower.ApiKey);

        var terminated = await Db.ScalarAsync<long>(fixture.Leader,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            LeaderTokenRevocationFeed.ListenApplicationName);
        Assert.True(terminated >= 1, "no LISTEN connection of the revocation feed was found");
        var rotated = Stopwatch.StartNew();
        await RotateBySqlAsync(follower.RoleId, ApiKeys.Generate());

        await Eventually.HoldsAsync(
            async () => (await gateway.SendAsync(HttpMethod.Get, Whoami, token)).Status == HttpStatusCode.Unauthorized,
            "the old token is refused without the LISTEN connection it had", Bound);
        output.WriteLine($"old token refused {rotated.Elapsed.TotalMilliseconds:F0} ms after the rotation, its LISTEN connection killed");
        // And the feed listens again.
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(fixture.Leader,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LeaderTokenRevocationFeed.ListenApplicationName) >= 1,
            "the feed LISTENs again");
        Assert.Contains(gateway.Logs.Entries, e => e.EventId.Id == 2883);
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await gateway.ReadyAsync());
    }

    [Fact]
    public async Task A_revocation_that_commits_after_a_newer_one_was_read_is_still_applied()
    {
        var (early, late) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        await using var gateway = await RedisGateway.StartAsync(fixture.Leader, redis: null);
        var lateToken = await gateway.TokenAsync("host/" + late.Name, late.ApiKey);
        var earlyToken = await gateway.TokenAsync("host/" + early.Name, early.ApiKey);

        // A transaction stamps its row (clock_timestamp() at the trigger), then commits after a newer row was read.
        await using var slow = new NpgsqlConnection(fixture.Leader);
        await slow.OpenAsync();
        await using var transaction = await slow.BeginTransactionAsync();
        await using (var rotate = new NpgsqlCommand("UPDATE credentials SET api_key = $2 WHERE role_id = $1", slow, transaction)
        {
            Parameters = { new() { Value = early.RoleId }, new() { Value = ConjurBlob.Seal(TestDataKey.Base64, early.RoleId, ApiKeys.Generate()) } },
        })
        {
            Assert.Equal(1, await rotate.ExecuteNonQueryAsync());
        }

        // Stamped after the first statement returned: the newer row, read while the older is not yet committed.
        await RotateBySqlAsync(late.RoleId, ApiKeys.Generate());
        await Eventually.HoldsAsync(
            async () => (await gateway.SendAsync(HttpMethod.Get, Whoami, lateToken)).Status == HttpStatusCode.Unauthorized,
            "the newer revocation is read", Bound);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(HttpMethod.Get, Whoami, earlyToken)).Status);

        await transaction.CommitAsync();
        await Eventually.HoldsAsync(
            async () => (await gateway.SendAsync(HttpMethod.Get, Whoami, earlyToken)).Status == HttpStatusCode.Unauthorized,
            "the older revocation, committed later, is read too", Bound);
    }

    [Fact]
    public async Task The_notification_carries_no_key_material_and_only_a_changed_key_or_a_deletion_is_recorded()
    {
        var follower = await fixture.AddFollowerAsync();
        var notifications = new List<string>();
        await using var listener = new NpgsqlConnection(fixture.Leader);
        await listener.OpenAsync();
        listener.Notification += (_, e) =>
        {
            lock (notifications)
            {
                notifications.Add(e.Payload);
            }
        };
        await using (var listen = new NpgsqlCommand($"LISTEN {LeaderTokenRevocationFeed.Channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        // An update that leaves the key as it is (Conjur touches expiration and restricted_to) records nothing.
        await Db.ExecuteAsync(fixture.Leader, "UPDATE credentials SET expiration = NULL, api_key = api_key WHERE role_id = $1", follower.RoleId);
        Assert.Equal(0L, await RevocationRowsAsync(follower.RoleId));

        // Rotated as an application role that may only update and delete credentials, as Conjur's may be: the
        // trigger records it all the same (SECURITY DEFINER) and Conjur's statement does not fail.
        var application = "conjur_app_" + Guid.NewGuid().ToString("N")[..8];
        await Db.ExecuteAsync(fixture.Leader, $"CREATE ROLE {application}");
        await Db.ExecuteAsync(fixture.Leader, $"GRANT SELECT, UPDATE, DELETE ON credentials TO {application}");
        var newKey = ApiKeys.Generate();
        await using (var conjur = new NpgsqlConnection(fixture.Leader))
        {
            await conjur.OpenAsync();
            await using var transaction = await conjur.BeginTransactionAsync();
            await using (var asApplication = new NpgsqlCommand($"SET LOCAL ROLE {application}", conjur, transaction))
            {
                await asApplication.ExecuteNonQueryAsync();
            }

            await using var rotate = new NpgsqlCommand("UPDATE credentials SET api_key = $2 WHERE role_id = $1", conjur, transaction)
            {
                Parameters = { new() { Value = follower.RoleId }, new() { Value = ConjurBlob.Seal(TestDataKey.Base64, follower.RoleId, newKey) } },
            };
            Assert.Equal(1, await rotate.ExecuteNonQueryAsync());
            await transaction.CommitAsync();
        }

        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(10)), "no notification");
        Assert.Equal(1L, await RevocationRowsAsync(follower.RoleId));

        // A host deleted by a policy: Conjur deletes its credentials.
        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM credentials WHERE role_id = $1", follower.RoleId);
        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(10)), "no notification");
        Assert.Equal(2L, await RevocationRowsAsync(follower.RoleId));

        lock (notifications)
        {
            Assert.Equal(2, notifications.Count);
            Assert.All(notifications, payload => Assert.Equal("", payload));
            Assert.DoesNotContain(notifications, payload => payload.Contains(newKey, StringComparison.Ordinal) || payload.Contains(follower.ApiKey, StringComparison.Ordinal));
        }

        // The table holds a role and a time, nothing of the key.
        Assert.Equal(["revoked_at", "role_id"], await Db.ColumnAsync(fixture.Leader,
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'partial_replica' AND table_name = 'token_revocations' ORDER BY 1"));
        await Eventually.HoldsAsync(async () =>
        {
            using var response = await fixture.GetAsync(Whoami, follower.Token);
            return response.StatusCode == HttpStatusCode.Unauthorized;
        }, "the fixture's gateway refuses the deleted host's token", Bound);
    }

    private Task<long> RevocationRowsAsync(string roleId) =>
        Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM partial_replica.token_revocations WHERE role_id = $1", roleId);

    private Task RotateBySqlAsync(string roleId, string newKey) =>
        Db.ExecuteAsync(fixture.Leader, "UPDATE credentials SET api_key = $2 WHERE role_id = $1",
            roleId, ConjurBlob.Seal(TestDataKey.Base64, roleId, newKey));
}
