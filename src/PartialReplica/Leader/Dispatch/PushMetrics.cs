using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// The push path's instruments on the <see cref="MeterName"/> meter (exported over OTLP by the gateway when
/// configured). Tags are follower names and kinds, never a value.
/// </summary>
public static class PushMetrics
{
    public const string MeterName = "PartialReplica";

    private static readonly Meter Meter = new(MeterName, typeof(PushMetrics).Assembly.GetName().Version?.ToString());

    // Last sampled backlog per follower, reported by the observable gauges.
    private static readonly ConcurrentDictionary<string, (long Pending, long LagMs)> Backlog = new(StringComparer.Ordinal);

    /// <summary>Pushes acknowledged by an agent; tags <c>follower</c>, <c>kind</c> (incremental or reconcile).</summary>
    public static readonly Counter<long> Pushes = Meter.CreateCounter<long>(
        "partial_replica.pushes", "{push}", "Pushes acknowledged by follower agents.");

    /// <summary>Secret versions written or removed on followers; tags <c>follower</c>, <c>operation</c> (upsert or delete).</summary>
    public static readonly Counter<long> Rows = Meter.CreateCounter<long>(
        "partial_replica.push.rows", "{row}", "Secret versions upserted or deleted on followers by pushes.");

    /// <summary>Failed push attempts (after retries); tags <c>follower</c>, <c>error.type</c>.</summary>
    public static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        "partial_replica.push.errors", "{error}", "Push attempts that failed after retries.");

    /// <summary>How long a push took, from reading states to the agent's acknowledgement.</summary>
    public static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        "partial_replica.push.duration", "ms", "Time from reading the changed states to the agent's acknowledgement.");

    /// <summary>Outbox changes not yet delivered, per follower (sampled by <see cref="SampleBacklogAsync"/>).</summary>
    public static readonly ObservableGauge<long> QueueDepth = Meter.CreateObservableGauge(
        "partial_replica.queue.depth", () => Backlog.Select(b => new Measurement<long>(b.Value.Pending, new KeyValuePair<string, object?>("follower", b.Key))),
        "{change}", "Changes captured on the leader and not yet delivered to the follower.");

    /// <summary>Age of the oldest undelivered change, per follower (0 when caught up).</summary>
    public static readonly ObservableGauge<long> Lag = Meter.CreateObservableGauge(
        "partial_replica.lag", () => Backlog.Select(b => new Measurement<long>(b.Value.LagMs, new KeyValuePair<string, object?>("follower", b.Key))),
        "ms", "Age of the oldest change not yet delivered to the follower.");

    /// <summary>Records one acknowledged push.</summary>
    public static void RecordPush(PushEvent pushed)
    {
        var follower = new KeyValuePair<string, object?>("follower", pushed.Follower);
        Pushes.Add(1, follower, new KeyValuePair<string, object?>("kind", pushed.Reconcile ? "reconcile" : "incremental"));
        Rows.Add(pushed.Upserts, follower, new KeyValuePair<string, object?>("operation", "upsert"));
        Rows.Add(pushed.Deletes, follower, new KeyValuePair<string, object?>("operation", "delete"));
        Duration.Record(pushed.Milliseconds, follower);
    }

    /// <summary>Records a failed push attempt.</summary>
    public static void RecordError(string follower, Exception error) =>
        Errors.Add(1, new KeyValuePair<string, object?>("follower", follower), new KeyValuePair<string, object?>("error.type", error.GetType().Name));

    /// <summary>
    /// Reads every follower's pending changes and lag from the leader every <paramref name="interval"/> until
    /// cancelled, for the queue depth and lag gauges. Runs beside the dispatcher, not inside it.
    /// </summary>
    public static async Task SampleBacklogAsync(NpgsqlDataSource leader, TimeSpan interval, ILogger logger, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            do
            {
                try
                {
                    await SampleBacklogOnceAsync(leader, reported, cancellationToken);
                }
                catch (NpgsqlException e)
                {
                    LogMessages.BacklogSampleFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// One sample of the backlog: the pending/lag part of the status query, without grant counts. Followers in
    /// <paramref name="reported"/> (this leader's, from the last sample) that are gone stop being reported.
    /// </summary>
    public static async Task SampleBacklogOnceAsync(NpgsqlDataSource leader, ISet<string> reported, CancellationToken cancellationToken)
    {
        var backlog = await ReadBacklogAsync(leader, cancellationToken);
        foreach (var (follower, sample) in backlog)
        {
            Backlog[follower] = sample;
        }

        foreach (var gone in reported.Where(k => !backlog.ContainsKey(k)).ToList())
        {
            Backlog.TryRemove(gone, out _);
            reported.Remove(gone);
        }

        reported.UnionWith(backlog.Keys);
    }

    /// <summary>
    /// Every registered follower's undelivered changes and the age of its oldest one in ms (0 when caught up), read
    /// from the leader's outbox and delivery cursors: the gauges above and the dashboard's lag history.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, (long Pending, long LagMs)>> ReadBacklogAsync(
        NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT d.follower, pending.n, COALESCE(pending.lag_ms, 0)
              FROM partial_replica.delivery d
              CROSS JOIN LATERAL (
                  SELECT count(*) AS n,
                         (extract(epoch FROM clock_timestamp() - min(c.created_at)) * 1000)::bigint AS lag_ms
                    FROM partial_replica.changes c
                   WHERE (c.tx, c.change_id) > (d.last_tx, d.last_change_id)
                     AND (c.follower IS NULL OR c.follower = d.follower)) pending
            """);
        var backlog = new Dictionary<string, (long Pending, long LagMs)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            backlog[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }

        return backlog;
    }
}
