using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Metrics;

/// <summary>
/// The <c>PartialReplica</c> meter moves with the push path: pushes and rows when an agent applies a batch,
/// errors when an agent is unreachable, queue depth and lag while changes wait. The listener takes the gateway's own
/// meter (made by its host's IMeterFactory), so no other test's measurements reach it.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class PushMetricsTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const string Receiver = "conjur/followers/metrics-receiver";
    private const string Unreachable = "conjur/followers/metrics-unreachable";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string BillingToken = "default:variable:apps/billing/api/token";

    private readonly ConcurrentDictionary<(string Instrument, string Follower, string? Kind), long> _totals = new();
    private GatewayMeterListener _listener = null!;

    public Task InitializeAsync()
    {
        _listener = new GatewayMeterListener(_ => true, (instrument, value, tags, _) =>
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

    public Task DisposeAsync()
    {
        _listener.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Pushes_rows_errors_queue_depth_and_lag_are_measured()
    {
        // Two followers of our own: one in the west set, one whose agent nobody listens for.
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Policy("""
                - !host metrics-receiver
                - !host metrics-unreachable
                - !grant
                  role: !layer west-hosts
                  member: !host metrics-receiver
                - !grant
                  role: !layer west-hosts
                  member: !host metrics-unreachable
                """, "conjur/followers")
            .Secret(BillingDb, "metrics")
            .Secret(BillingToken, "metrics")
            .Gateway()
            .Then(_listener.ListenAsync)
            .Follower(Receiver, 0)
            .FollowerWithoutAgent(Unreachable, 1, "http://127.0.0.1:1")
            .StartAsync();
        var follower = world.FollowerDb(Receiver);

        // The backfill is a push of both granted secrets, one version each.
        await Eventually.HoldsAsync(() => Task.FromResult(
                Total("partial_replica.pushes", Receiver, "reconcile") >= 1 && Total("partial_replica.push.rows", Receiver, "upsert") >= 2),
            "the receiver's backfill counted");
        Assert.Equal(2L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));

        // A new version is one incremental push of one row.
        var rowsBefore = Total("partial_replica.push.rows", Receiver, "upsert");
        await world.SetSecretAsync(BillingDb, "metrics");
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
}
