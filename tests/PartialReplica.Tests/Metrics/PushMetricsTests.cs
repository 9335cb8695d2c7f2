using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Metrics;

/// <summary>
/// The <c>PartialReplica</c> meter moves with the push path: pushes and rows when an agent applies a batch,
/// errors when an agent is unreachable, queue depth and lag while changes wait. The listener takes the gateway's own
/// meter (made by its host's IMeterFactory), so no other test's measurements reach it.
/// </summary>
public sealed class PushMetricsTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>, IAsyncLifetime
{
    private const string Receiver = "conjur/followers/metrics-receiver";
    private const string Unreachable = "conjur/followers/metrics-unreachable";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string BillingToken = "default:variable:apps/billing/api/token";

    private readonly List<WebApplication> _apps = [];
    private readonly Slosilo _crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());
    private readonly ConcurrentDictionary<(string Instrument, string Follower, string? Kind), long> _totals = new();
    private readonly MeterListener _listener = new();
    private Meter? _meter;

    public Task InitializeAsync()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? follower = null, kind = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "follower")
                {
                    follower = tag.Value as string;
                }
                else if (tag.Key is "operation" or "kind")
                {
                    kind = tag.Value as string;
                }
            }

            if (follower is not null)
            {
                var key = (instrument.Name, follower, kind);
                if (instrument is ObservableGauge<long>)
                {
                    _totals[key] = value;
                }
                else
                {
                    _totals.AddOrUpdate(key, value, (_, total) => total + value);
                }
            }
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Pushes_rows_errors_queue_depth_and_lag_are_measured()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await LoadPolicyAsync(leader, File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")), "root");
        // Two followers of our own: one in the west set, one whose agent nobody listens for.
        await LoadPolicyAsync(leader, """
            - !host metrics-receiver
            - !host metrics-unreachable
            - !grant
              role: !layer west-hosts
              member: !host metrics-receiver
            - !grant
              role: !layer west-hosts
              member: !host metrics-unreachable
            """, "conjur/followers");
        await SetSecretAsync(leader, BillingDb);
        await SetSecretAsync(leader, BillingToken);

        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader);
        _apps.Add(gateway);
        _meter = gateway.Services.GetRequiredService<PushMetrics>().Meter;
        _listener.Start();
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "metrics");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync(Receiver, follower, gatewayUrl);
        _apps.Add(agent);
        await InitAsync(leader, follower, Receiver, agentUrl);
        var unreachable = await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "metrics");
        await InitAsync(leader, unreachable, Unreachable, "http://127.0.0.1:1");

        // The backfill is a push of both granted secrets, one version each.
        await Eventually.HoldsAsync(() => Task.FromResult(
                Total("partial_replica.pushes", Receiver, "reconcile") >= 1 && Total("partial_replica.push.rows", Receiver, "upsert") >= 2),
            "the receiver's backfill counted");
        Assert.Equal(2L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));

        // A new version is one incremental push of one row.
        var rowsBefore = Total("partial_replica.push.rows", Receiver, "upsert");
        await SetSecretAsync(leader, BillingDb);
        await Eventually.HoldsAsync(() => Task.FromResult(
                Total("partial_replica.pushes", Receiver, "incremental") >= 1 && Total("partial_replica.push.rows", Receiver, "upsert") >= rowsBefore + 1),
            "the incremental push counted");

        // The unreachable follower: failed attempts, and its changes wait in the queue, growing older.
        await Eventually.HoldsAsync(() => Task.FromResult(Total("partial_replica.push.errors", Unreachable, null) >= 1), "push errors counted");
        await Eventually.HoldsAsync(() =>
        {
            _listener.RecordObservableInstruments();
            return Task.FromResult(Total("partial_replica.queue.depth", Unreachable, null) >= 1 && Total("partial_replica.lag", Unreachable, null) > 0);
        }, "queue depth and lag of the unreachable follower observed");
        await Eventually.HoldsAsync(() =>
        {
            _listener.RecordObservableInstruments();
            return Task.FromResult(_totals.ContainsKey(("partial_replica.queue.depth", Receiver, null)) && Total("partial_replica.queue.depth", Receiver, null) == 0);
        }, "the receiver's queue observed empty");
    }

    private long Total(string instrument, string follower, string? kind) => _totals.GetValueOrDefault((instrument, follower, kind));

    private static async Task InitAsync(string leader, string follower, string name, string agentUrl)
    {
        await using var followerSource = NpgsqlDataSource.Create(follower);
        await new FollowerInit(NullLogger.Instance).RunAsync(leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agentUrl }, CancellationToken.None);
    }

    private static async Task LoadPolicyAsync(string leader, string text, string branch)
    {
        await using var dataSource = NpgsqlDataSource.Create(leader);
        await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = text, Mode = PolicyMode.Load, Branch = branch }, CancellationToken.None);
    }

    private async Task SetSecretAsync(string leader, string id) =>
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, _crypto.Encrypt(Encoding.UTF8.GetBytes("metrics"), id));
}
