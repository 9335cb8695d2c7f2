using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// The push path's instruments on a <see cref="MeterName"/> meter created from the host's
/// <see cref="IMeterFactory"/> (exported over OTLP by the gateway when configured). Each instance owns its meter, so
/// a test listens to the instance its host made. Tags are follower names and kinds, never a value.
/// </summary>
public sealed class PushMetrics
{
    public const string MeterName = "PartialReplica";

    // Last sampled backlog per follower, reported by the observable gauges.
    private readonly ConcurrentDictionary<string, (long Pending, long LagMs)> _backlog = new(StringComparer.Ordinal);
    private readonly Counter<long> _pushes;
    private readonly Counter<long> _rows;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _outboxReads;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _reconcilePages;

    public PushMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName, typeof(PushMetrics).Assembly.GetName().Version?.ToString());
        _pushes = Meter.CreateCounter<long>("partial_replica.pushes", "{push}", "Pushes acknowledged by follower agents.");
        _rows = Meter.CreateCounter<long>("partial_replica.push.rows", "{row}", "Secret versions upserted or deleted on followers by pushes.");
        _errors = Meter.CreateCounter<long>("partial_replica.push.errors", "{error}", "Push attempts that failed after retries.");
        _outboxReads = Meter.CreateCounter<long>(
            "partial_replica.outbox.reads", "{read}", "Reads of the change outbox by the worker of a follower (it reads when woken or at its poll).");
        _duration = Meter.CreateHistogram<double>(
            "partial_replica.push.duration", "ms", "Time from reading the changed states to the agent's acknowledgement.");
        _reconcilePages = Meter.CreateUpDownCounter<long>(
            "partial_replica.reconcile.pages", "{page}",
            "Full-reconcile pages the gateway holds: read from the leader and not yet acknowledged by the agent (at most two per follower).");
        Meter.CreateObservableGauge(
            "partial_replica.queue.depth", () => _backlog.Select(b => new Measurement<long>(b.Value.Pending, new KeyValuePair<string, object?>("follower", b.Key))),
            "{change}", "Changes captured on the leader and not yet delivered to the follower.");
        Meter.CreateObservableGauge(
            "partial_replica.lag", () => _backlog.Select(b => new Measurement<long>(b.Value.LagMs, new KeyValuePair<string, object?>("follower", b.Key))),
            "ms", "Age of the oldest change not yet delivered to the follower.");
    }

    /// <summary>
    /// This instance's meter: <c>partial_replica.pushes</c> (tags <c>follower</c>, <c>kind</c>: incremental or
    /// reconcile), <c>partial_replica.push.rows</c> (<c>follower</c>, <c>operation</c>: upsert or delete),
    /// <c>partial_replica.push.errors</c> (<c>follower</c>, <c>error.type</c>; attempts that failed after retries),
    /// <c>partial_replica.push.duration</c> (ms), <c>partial_replica.outbox.reads</c> (<c>follower</c>; a worker's reads of
    /// the outbox: a change wakes only the workers of the followers it concerns), <c>partial_replica.reconcile.pages</c>
    /// (<c>follower</c>; pages a full reconcile holds, read and not yet acknowledged, never more than two), and the gauges <c>partial_replica.queue.depth</c> and
    /// <c>partial_replica.lag</c> (ms) per follower, sampled by <see cref="SampleBacklogAsync"/>.
    /// </summary>
    public Meter Meter { get; }

    /// <summary>Records one acknowledged push.</summary>
    public void RecordPush(PushEvent pushed)
    {
        var follower = new KeyValuePair<string, object?>("follower", pushed.Follower);
        _pushes.Add(1, follower, new KeyValuePair<string, object?>("kind", pushed.Reconcile ? "reconcile" : "incremental"));
        _rows.Add(pushed.Upserts, follower, new KeyValuePair<string, object?>("operation", "upsert"));
        _rows.Add(pushed.Deletes, follower, new KeyValuePair<string, object?>("operation", "delete"));
        _duration.Record(pushed.Milliseconds, follower);
    }

    /// <summary>Records one read of the outbox by <paramref name="follower"/>'s worker.</summary>
    public void RecordOutboxRead(string follower) => _outboxReads.Add(1, new KeyValuePair<string, object?>("follower", follower));

    /// <summary>A full reconcile of <paramref name="follower"/> took a page (+1: its read starts) or let one go (-1: acknowledged, failed or empty).</summary>
    public void RecordReconcilePages(string follower, int change) =>
        _reconcilePages.Add(change, new KeyValuePair<string, object?>("follower", follower));

    /// <summary>Records a failed push attempt.</summary>
    public void RecordError(string follower, Exception error) =>
        _errors.Add(1, new KeyValuePair<string, object?>("follower", follower), new KeyValuePair<string, object?>("error.type", error.GetType().Name));

    /// <summary>
    /// Reads every follower's pending changes and lag from the leader every <paramref name="interval"/> until
    /// cancelled, for the queue depth and lag gauges. Runs beside the dispatcher, not inside it.
    /// </summary>
    public async Task SampleBacklogAsync(NpgsqlDataSource leader, TimeSpan interval, ILogger logger, CancellationToken cancellationToken)
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
    public async Task SampleBacklogOnceAsync(NpgsqlDataSource leader, ISet<string> reported, CancellationToken cancellationToken)
    {
        var backlog = await Backlog.ReadAsync(leader, cancellationToken);
        foreach (var (follower, sample) in backlog)
        {
            _backlog[follower] = sample;
        }

        foreach (var gone in reported.Where(k => !backlog.ContainsKey(k)).ToList())
        {
            _backlog.TryRemove(gone, out _);
            reported.Remove(gone);
        }

        reported.UnionWith(backlog.Keys);
    }
}
