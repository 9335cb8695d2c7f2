using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Supervision;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Hosting;

/// <summary>
/// R8: a background loop that throws an exception nobody expected is not lost. A real gateway over a real leader
/// pushes to a real agent while its heartbeat loop is made to throw (through the host's <see cref="LoopFaultPoint"/>,
/// which production never sets): the failure is logged with its stack trace, <c>/health/ready</c> names the loop as
/// degraded, the loop restarts with back-off, and once the fault is gone it runs again, reports healthy, and pushes
/// never stopped. Everything the gateway logs meanwhile, at Trace level, exceptions included, holds no secret value,
/// ciphertext or API key (S3).
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed partial class SupervisedLoopTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const string East = "conjur/followers/east-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string SupervisorCategory = "PartialReplica.Supervision.LoopSupervisor";

    private readonly List<WebApplication> _apps = [];
    private readonly Slosilo _crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());
    private readonly List<(string Plaintext, byte[] Ciphertext)> _values = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_loop_that_throws_an_unexpected_exception_is_logged_reported_degraded_restarted_and_healthy_again()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();
        var policy = await ReplicationFixture.LoadDemoPolicyAsync(leader);
        await SetSecretAsync(leader, BillingDb, "first");
        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?>
        {
            ["Dispatch:HeartbeatInterval"] = "00:00:00.100",
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:Console:LogLevel:Default"] = "None",
        });
        _apps.Add(gateway);
        using var logs = new CapturedLogs();
        gateway.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        using var http = new HttpClient { BaseAddress = new Uri(gatewayUrl) };

        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "supervised");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync(East, follower, gatewayUrl);
        _apps.Add(agent);
        await using (var followerSource = NpgsqlDataSource.Create(follower))
        {
            await new FollowerInit(NullLogger.Instance).RunAsync(leader, followerSource,
                new FollowerInitOptions { Name = East, AgentUrl = agentUrl }, CancellationToken.None);
        }

        await AwaitSameVersionsAsync(leader, follower);
        Assert.Equal("Healthy", await ReadyAsync(http));
        using (var agentHttp = new HttpClient { BaseAddress = new Uri(agentUrl) })
        {
            Assert.Equal("Healthy", await ReadyAsync(agentHttp));
        }

        // The fault: an exception type no loop handles, thrown on the heartbeat loop's own task while armed.
        var armed = true;
        gateway.Services.GetRequiredService<LoopFaultPoint>().Hook = loop =>
        {
            if (loop == Dispatcher.Loops.Heartbeat && Volatile.Read(ref armed))
            {
                throw new InjectedLoopFault();
            }
        };

        // Logged as an error with the exception itself (its stack trace reaches the log), and restarted: it failed again.
        await Eventually.HoldsAsync(() => Task.FromResult(Failures(logs).Count >= 2), "the heartbeat loop failed, restarted and failed again");
        var failure = Failures(logs)[0];
        Assert.Equal(LogLevel.Error, failure.Level);
        var thrown = Assert.IsType<InjectedLoopFault>(failure.Exception);
        Assert.Contains(nameof(SupervisedLoopTests), thrown.StackTrace, StringComparison.Ordinal);
        Assert.Contains(nameof(LoopSupervisor), thrown.StackTrace, StringComparison.Ordinal);
        Assert.Equal(1, failure.State["Failures"]);
        Assert.Equal(2, Failures(logs)[1].State["Failures"]);
        Assert.Matches(@"^Background loop dispatch\.heartbeat failed \(1 in a row\); restarting it in \d+ ms$", failure.Message);

        // Reported while down, naming the loop and nothing else.
        var degraded = await ReadyAsync(http);
        Assert.Matches(DegradedHeartbeat(), degraded);

        // Pushes go on while the heartbeat loop is down.
        await SetSecretAsync(leader, BillingDb, "second");
        await AwaitSameVersionsAsync(leader, follower, expected: 2);

        // The fault gone, the loop's next restart runs: it says so, beats again, and readiness is healthy again.
        var beatBefore = await Db.ScalarAsync<DateTime>(leader, "SELECT beat_at FROM partial_replica.heartbeat WHERE id = 1");
        Volatile.Write(ref armed, false);
        await Eventually.HoldsAsync(async () => await ReadyAsync(http) == "Healthy", "/health/ready healthy again");
        var recovered = Assert.Single(logs.Entries, e => e.Category == SupervisorCategory && e.EventId.Id == 1601);
        Assert.Equal(Dispatcher.Loops.Heartbeat, recovered.State["Loop"]);
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<DateTime>(leader, "SELECT beat_at FROM partial_replica.heartbeat WHERE id = 1") > beatBefore,
            "the restarted heartbeat loop beats again");

        await SetSecretAsync(leader, BillingDb, "third");
        await AwaitSameVersionsAsync(leader, follower, expected: 3);
        Assert.Equal("Healthy", await ReadyAsync(http));

        string[] forbidden =
        [
            .. _values.SelectMany(v => new[] { v.Plaintext, Convert.ToBase64String(v.Ciphertext), Convert.ToHexStringLower(v.Ciphertext) }),
            setup.AdminApiKey!, policy.CreatedRoles["default:host:" + East].ApiKey!,
        ];
        var lines = logs.Entries.Select(e => e.Message + "\n" + e.Exception).ToList();
        Assert.Contains(lines, l => l.Contains(nameof(InjectedLoopFault), StringComparison.Ordinal));
        foreach (var secret in forbidden)
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }

    private static List<CapturedLogs.Entry> Failures(CapturedLogs logs) =>
        [.. logs.Entries.Where(e => e.Category == SupervisorCategory && e.EventId.Id == 1600 && Equals(e.State.GetValueOrDefault("Loop"), Dispatcher.Loops.Heartbeat))];

    [GeneratedRegex(@"^Degraded\nloops: Degraded: background loops down, restarting: dispatch\.heartbeat \(InjectedLoopFault, \d+ failures in a row since \d\d:\d\d:\d\dZ\)$")]
    private static partial Regex DegradedHeartbeat();

    private static async Task<string> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task SetSecretAsync(string leader, string id, string value)
    {
        var canary = $"CANARY-{value}-{Guid.NewGuid():N}";
        var ciphertext = _crypto.Encrypt(Encoding.UTF8.GetBytes(canary), id);
        _values.Add((canary, ciphertext));
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, ciphertext);
    }

    /// <summary>Waits until the follower holds the leader's versions of the billing password, byte for byte.</summary>
    private static async Task AwaitSameVersionsAsync(string leader, string follower, int expected = 1)
    {
        const string versions = "SELECT version || '#' || encode(value, 'hex') FROM secrets WHERE resource_id = $1 ORDER BY version";
        await Eventually.HoldsAsync(async () =>
        {
            var held = await Db.ColumnAsync(leader, versions, BillingDb);
            return held.Count == expected && held.SequenceEqual(await Db.ColumnAsync(follower, versions, BillingDb));
        }, $"the follower holds the leader's {expected} version(s) of {BillingDb}");
    }

    private sealed class InjectedLoopFault() : Exception("injected by the test");
}
