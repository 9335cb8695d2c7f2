using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Leader.Capture;
using PartialReplica.Leader.Heartbeat;
using PartialReplica.Protocol;
using PartialReplica.Schema;
using PartialReplica.Status;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// Serves one follower: holds the follower's advisory lock on the leader (so one gateway at a time pushes
/// to it), owes it a full reconcile when asked, and otherwise pushes the granted part of each outbox
/// change, advancing the durable cursor only after the agent acknowledged. One worker's slow or dead
/// follower never delays another worker.
/// </summary>
internal sealed class FollowerWorker
{
    private readonly NpgsqlDataSource _leader;
    private readonly FollowerEndpoint _follower;
    private readonly IBatchSender _sender;
    private readonly LeaderBeacon _beacon;
    private readonly DispatchOptions _options;
    private readonly ILogger _logger;
    private readonly GrantedSecretsReader _states;
    private readonly ResiliencePipeline<ApplyReport> _pipeline;
    private readonly Action<PushEvent> _pushed;
    private readonly PushMetrics _metrics;
    private volatile bool _recheckDelivery;
    private int _refusals;
    // The breaker's own exception says only that it is open; status shows the failure that opened it, and until when.
    private readonly FollowerErrors _errors;
    private Exception? _breakingCause;
    private long _breakerUntilTicks;
    private bool _pushedSinceAdvance;
    private readonly CancellationToken _abort;

    public FollowerWorker(
        NpgsqlDataSource leader, FollowerEndpoint follower, IBatchSender sender, LeaderBeacon beacon, DispatchOptions options, ILogger logger,
        PushMetrics metrics, Action<PushEvent> pushed, CancellationToken abort)
    {
        _metrics = metrics;
        _abort = abort;
        _beacon = beacon;
        _leader = leader;
        _follower = follower;
        _sender = sender;
        _options = options;
        _logger = logger;
        _pushed = pushed;
        _states = new GrantedSecretsReader(leader);
        _errors = new FollowerErrors(leader, follower.Name);
        var transient = new PredicateBuilder<ApplyReport>()
            .Handle<Exception>(e => e is not OperationCanceledException and not BrokenCircuitException and not BatchRefusedException);
        _pipeline = new ResiliencePipelineBuilder<ApplyReport>()
            .AddRetry(new RetryStrategyOptions<ApplyReport>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<ApplyReport>
            {
                ShouldHandle = transient,
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = options.BreakDuration,
                OnOpened = args =>
                {
                    _breakingCause = args.Outcome.Exception;
                    Interlocked.Exchange(ref _breakerUntilTicks, (DateTimeOffset.UtcNow + args.BreakDuration).UtcTicks);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    Interlocked.Exchange(ref _breakerUntilTicks, 0);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public WakeSignal Wake { get; } = new();

    /// <summary>Outbox ranges the gate's horizon poll found not to concern this follower; the worker moves across them.</summary>
    public UnconcernedRange Unconcerned { get; } = new();

    public FollowerEndpoint Endpoint => _follower;

    /// <summary>
    /// Serves the follower until <paramref name="stopping"/> (the follower moved to another gateway, its record
    /// changed, or the gateway stops). A stop ends every wait at once, but a push in flight (a change batch, or the
    /// reconcile pages already sent) is carried to its acknowledgement first, and only then are the follower's
    /// claim and lock given up: the next owner, which waits for the lock, never applies beside this one. The
    /// worker's abort token (a stop's <see cref="DispatchOptions.DrainTimeout"/> later) cuts a push that hangs.
    /// </summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort);
        var waits = either.Token;
        while (!waits.IsCancellationRequested)
        {
            try
            {
                // The session holds the follower's lock and carries the steady-state statements (prepared once).
                await using var session = await OutboxReader.OpenSessionAsync(_leader, waits);
                var acquired = await session.ScalarAsync<bool>(
                    "SELECT pg_try_advisory_lock(hashtextextended('partial_replica.follower:' || $1, 0))", waits, _follower.Name);
                if (!acquired)
                {
                    await Task.Delay(_options.TakeoverInterval, waits);
                    continue;
                }

                LogMessages.FollowerServed(_logger, _follower.Name, _options.InstanceId);
                try
                {
                    await ClaimAsync(session, waits);
                    await ServeAsync(session, stopping, waits, _abort);
                }
                finally
                {
                    await ReleaseAsync(session);
                }
            }
            catch (OperationCanceledException) when (waits.IsCancellationRequested)
            {
                return;
            }
            catch (BatchRefusedException e)
            {
                // The agent's own check refused the batch (a grant revoked after the states were read, a grant committed
                // between a state's stamp and its read, the follower's replication behind): back off, then serve again
                // from the durable cursor, re-reading the states. The first retries come quickly: a race of this kind is
                // over after one replication round trip, and a long first back-off would hold the follower's revokes back.
                var backoff = TimeSpan.FromMilliseconds(Math.Min(10 * Math.Pow(2, Math.Min(_refusals++, 12)), _options.PollInterval.TotalMilliseconds * 5));
                LogMessages.PushRefused(_logger, _follower.Name, (int)backoff.TotalMilliseconds, e);
                _metrics.RecordError(_follower.Name, e);
                await RecordErrorAsync(e, waits);
                await Task.Delay(backoff, waits).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception e)
            {
                LogPushFailure(e);
                _metrics.RecordError(_follower.Name, e);
                await RecordErrorAsync(e, waits);
                await Wake.WaitAsync(_options.PollInterval, waits).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Records on the leader that this gateway serves the follower (status reads it there, whichever gateway answers),
    /// and has the leader drop the session within seconds if this gateway's host goes silent (a network cut leaves
    /// no FIN): the session lock dies with it, so another gateway can take the follower over.
    /// </summary>
    private async Task ClaimAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await session.ExecuteAsync("""
            SELECT set_config('tcp_keepalives_idle', '5', false), set_config('tcp_keepalives_interval', '2', false),
                   set_config('tcp_keepalives_count', '3', false)
            """, cancellationToken);
        await session.ExecuteAsync(
            "UPDATE partial_replica.delivery SET gateway = $2, served_since = clock_timestamp() WHERE follower = $1",
            cancellationToken, _follower.Name, _options.InstanceId);
    }

    /// <summary>
    /// Gives the follower up explicitly, claim first: a pooled connection would otherwise keep the session lock until
    /// its next use, delaying another gateway's takeover. A broken session has released it already.
    /// </summary>
    private async Task ReleaseAsync(NpgsqlConnection session)
    {
        try
        {
            await session.ExecuteAsync(
                "UPDATE partial_replica.delivery SET gateway = NULL, served_since = NULL WHERE follower = $1 AND gateway = $2",
                CancellationToken.None, _follower.Name, _options.InstanceId);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The session is gone, and its lock with it; the next owner writes its own name over this one.
            LogMessages.FollowerClaimNotCleared(_logger, _follower.Name, e);
            return;
        }

        try
        {
            await session.ExecuteAsync("SELECT pg_advisory_unlock_all()", CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The session is gone, and its locks with it.
        }
    }

    /// <summary>Asks the worker to re-read its delivery row (a reconcile may have been ordered).</summary>
    public void RecheckDelivery() => _recheckDelivery = true;

    /// <summary>
    /// Pushes until <paramref name="stopping"/>: statements and pushes run to their end (<paramref name="cancellationToken"/>
    /// is the abort), waits end at the stop (<paramref name="waits"/>), and a stop is looked for between batches.
    /// </summary>
    private async Task ServeAsync(NpgsqlConnection session, CancellationToken stopping, CancellationToken waits, CancellationToken cancellationToken)
    {
        // The cursor lives in memory while this worker holds the follower; the delivery row is re-read when an
        // operator's wake-up asks (a reconcile may have been ordered) and at least every second, and written after
        // every push, or every second when the changes read concerned nothing this follower holds.
        OutboxCursor? cursor = null;
        var persisted = OutboxCursor.Start;
        var sinceCheck = Stopwatch.StartNew();
        while (!stopping.IsCancellationRequested)
        {
            if (cursor is null || _recheckDelivery || sinceCheck.Elapsed > TimeSpan.FromSeconds(1))
            {
                _recheckDelivery = false;
                sinceCheck.Restart();

                // The lock lives as long as this session, and every statement below runs on it: if the session
                // is gone, so is our claim on the follower, and the next statement fails.
                if (cursor is { } pending && pending.CompareTo(persisted) > 0)
                {
                    await AdvanceAsync(session, pending, reconciled: false, cancellationToken);
                }

                var (stored, needsReconcile) = await ReadDeliveryAsync(session, cancellationToken);
                (cursor, persisted) = (stored, stored);
                if (needsReconcile)
                {
                    await ReconcileAsync(session, stored, stopping, cancellationToken);
                    cursor = null;
                    continue;
                }
            }

            cursor = Unconcerned.Skip(cursor.Value);
            var changes = await OutboxReader.ReadAsync(session, cursor.Value, _follower.Name, _follower.RoleId, _options.BatchSize, cancellationToken);
            _metrics.RecordOutboxRead(_follower.Name);
            if (changes.Count == 0)
            {
                await Wake.WaitAsync(_options.PollInterval, waits);
                continue;
            }

            cursor = changes[^1].Position;

            // A short batch means the reader reached the horizon: the next read waits for a wake-up (the
            // gate's horizon poll or a notification) instead of spinning on the outbox while writers commit.
            var caughtUp = changes.Count < _options.BatchSize;
            var ids = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var sendAbsent = new HashSet<string>(StringComparer.Ordinal);
            foreach (var change in changes.Where(c => c.Relevant))
            {
                if (seen.Add(change.ResourceId))
                {
                    ids.Add(change.ResourceId);
                }

                // Anything that can take a variable away must reach the follower even when the grant has gone
                // since the change was read.
                if (change.Kind != "upsert")
                {
                    sendAbsent.Add(change.ResourceId);
                }
            }

            if (ids.Count > 0)
            {
                await PushChangesAsync(session, ids, sendAbsent, cancellationToken);
                await AdvanceAsync(session, cursor.Value, reconciled: false, cancellationToken);
                persisted = cursor.Value;
            }

            if (caughtUp)
            {
                await Wake.WaitAsync(_options.PollInterval, waits);
            }
        }
    }

    /// <summary>Pushes the current states of the changed variables the follower holds or must lose.</summary>
    private async Task PushChangesAsync(NpgsqlConnection session, List<string> ids, HashSet<string> sendAbsent, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var states = await GrantedSecretsReader.ReadPushStatesAsync(session, _follower.RoleId, ids, sendAbsent, cancellationToken);
        if (states.Count > 0)
        {
            var report = await SendAsync(states, sweep: null, cancellationToken);
            _pushed(new PushEvent(_follower.Name, report.Variables, report.Upserts, report.Deletes, clock.Elapsed.TotalMilliseconds, Reconcile: false));
        }
    }

    /// <summary>
    /// The most full-reconcile pages a worker holds at once. A page is held from the start of its read on the leader
    /// until the agent acknowledges it (its states, and its encoded body while it is sent, live that long), so a
    /// reconcile's memory is two pages of at most <see cref="DispatchOptions.ReconcileBatchSize"/> variables, whatever
    /// the size of the granted set.
    /// </summary>
    internal const int ReconcilePagesHeld = 2;

    /// <summary>
    /// Pushes every granted variable, page by page, each page sweeping its id range: the agent drops every secret
    /// there whose applied state is older than the stamp taken before the first page (everything granted is
    /// pushed with a newer one); a last batch sweeps the range after the last page. Changes up to the horizon
    /// taken first are covered by the states read afterwards; the cursor moves there. The grant table is
    /// current: registration, policy loads and requeues refresh it.
    /// </summary>
    /// <remarks>
    /// A stop (<paramref name="stopping"/>) sends no further page: the pages in flight are acknowledged, and the next
    /// owner reconciles anew (the cursor moves only at the end).
    /// </remarks>
    private async Task ReconcileAsync(NpgsqlConnection session, OutboxCursor cursor, CancellationToken stopping, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var horizon = await OutboxReader.HorizonAsync(session, cancellationToken);
        var sweepBefore = await GrantedSecretsReader.ReadStampAsync(session, cancellationToken);
        var reads = await GrantedSecretsReader.PlanPageReadsAsync(session, cancellationToken);
        int variables = 0, upserts = 0, deletes = 0;

        // The first page is small (ReconcileFirstBatchSize) so the agent starts applying soon; each next one doubles.
        // Pipelined within ReconcilePagesHeld: a page is read on the leader and sent while the one before is still
        // applied (the agent applies pages of disjoint ranges side by side, so the follower's cores copy at once), and
        // the page after that is read only once the oldest is acknowledged. The push itself is readied (token,
        // connection) while the first page is read. The last batch goes when every page is acknowledged.
        var prepared = PrepareAsync(cancellationToken);
        var pageSize = Math.Clamp(_options.ReconcileFirstBatchSize, 1, _options.ReconcileBatchSize);
        var held = new Queue<Task<ApplyReport>>(ReconcilePagesHeld);
        var after = "";
        string? swept = null;
        void Count(ApplyReport report)
        {
            upserts += report.Upserts;
            deletes += report.Deletes;
        }

        async Task<ApplyReport> PushPageAsync(IReadOnlyList<VariableState> states, Sweep sweep)
        {
            try
            {
                return await SendAsync(states, sweep, cancellationToken);
            }
            finally
            {
                _metrics.RecordReconcilePages(_follower.Name, -1);
            }
        }

        try
        {
            while (true)
            {
                if (held.Count == ReconcilePagesHeld)
                {
                    Count(await held.Dequeue());
                }

                _metrics.RecordReconcilePages(_follower.Name, 1);
                IReadOnlyList<VariableState> states;
                try
                {
                    states = await ReadReconcilePageAsync(after, pageSize, reads, cancellationToken);
                    await prepared;
                    if (states.Count > 0)
                    {
                        stopping.ThrowIfCancellationRequested();
                    }
                }
                catch
                {
                    _metrics.RecordReconcilePages(_follower.Name, -1);
                    throw;
                }

                if (states.Count == 0)
                {
                    _metrics.RecordReconcilePages(_follower.Name, -1);
                    break;
                }

                after = states[^1].Id;
                variables += states.Count;
                pageSize = Math.Min(pageSize * 2, _options.ReconcileBatchSize);
                held.Enqueue(PushPageAsync(states, new Sweep(sweepBefore, swept, after, 0)));
                swept = after;
            }

            while (held.TryDequeue(out var page))
            {
                Count(await page);
            }
        }
        finally
        {
            foreach (var page in held)
            {
                await ((Task)page).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await prepared;
        }

        var stamp = await GrantedSecretsReader.ReadStampAsync(session, cancellationToken);
        var final = await SendAsync([], new Sweep(sweepBefore, swept, null, stamp), cancellationToken);
        deletes += final.Deletes;
        await AdvanceAsync(session, horizon.CompareTo(cursor) > 0 ? horizon : cursor, reconciled: true, cancellationToken);
        _pushed(new PushEvent(_follower.Name, variables, upserts, deletes, clock.Elapsed.TotalMilliseconds, Reconcile: true));
    }

    /// <summary>A reconcile batch's sweep (<see cref="PushBatch.SweepBefore"/>), with the last batch's end stamp for tombstones.</summary>
    private sealed record Sweep(long Before, string? After, string? Through, long End);

    private async Task<ApplyReport> SendAsync(IReadOnlyList<VariableState> states, Sweep? sweep, CancellationToken cancellationToken)
    {
        var batch = new PushBatch(
            Guid.NewGuid().ToString("N"), _options.InstanceId, _follower.Name, states,
            SweepBefore: sweep?.Before ?? 0, SweepAfter: sweep?.After, SweepThrough: sweep?.Through, SweepEnd: sweep?.End ?? 0);
        var stamp = batch.NewestStamp();
        var report = await _pipeline.ExecuteAsync(async token =>
        {
            // The agent applies the batch once its follower has replayed a beat at least this far (SPEC S6). It waits
            // for that replay in any case, so the beat is committed while the request travels rather than before it.
            // A failed beat fails the push with its own error; the request is cancelled.
            using var sending = CancellationTokenSource.CreateLinkedTokenSource(token);
            var beat = _beacon.EnsureAsync(stamp, token);
            var send = _sender.SendAsync(_follower, batch, sending.Token);
            try
            {
                await beat;
            }
            catch
            {
                await sending.CancelAsync();
                await ((Task)send).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                throw;
            }

            return await send;
        }, cancellationToken);
        _refusals = 0;
        _pushedSinceAdvance = true;
        return report;
    }

    /// <summary>One event id per kind of failure: the agent silent, the agent answering an error, the leader failing, the breaker open, anything else.</summary>
    private void LogPushFailure(Exception e)
    {
        switch (e)
        {
            case HttpRequestException { StatusCode: { } status }:
                LogMessages.PushAgentError(_logger, _follower.Name, (int)status, e);
                break;
            case HttpRequestException or TaskCanceledException or TimeoutException:
                LogMessages.PushAgentUnreachable(_logger, _follower.Name, e);
                break;
            case NpgsqlException:
                LogMessages.PushLeaderFailed(_logger, _follower.Name, e);
                break;
            case BrokenCircuitException:
                LogMessages.PushBreakerOpen(_logger, _follower.Name, e);
                break;
            default:
                LogMessages.PushFailed(_logger, _follower.Name, e);
                break;
        }
    }

    private async Task PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _sender.PrepareAsync(_follower, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogMessages.PushPreparationFailed(_logger, _follower.Name, e);
        }
    }

    private Task<IReadOnlyList<VariableState>> ReadReconcilePageAsync(
        string after, int limit, PageReads reads, CancellationToken cancellationToken) =>
        _states.ReadPushPageAsync(_follower.RoleId, after, limit, reads, cancellationToken);

    private async Task<(OutboxCursor Cursor, bool NeedsReconcile)> ReadDeliveryAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(session, """
            SELECT last_tx::text::bigint, last_change_id, needs_reconcile FROM partial_replica.delivery WHERE follower = $1
            """, _follower.Name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new PartialReplicaException($"Follower {_follower.Name} has no delivery state; was it removed?");
        }

        return (new OutboxCursor(reader.GetInt64(0), reader.GetInt64(1)), reader.GetBoolean(2));
    }

    private async Task AdvanceAsync(NpgsqlConnection session, OutboxCursor to, bool reconciled, CancellationToken cancellationToken)
    {
        // A successful advance means the follower is healthy: its error, the error's start and the breaker's pause go.
        var pushed = _pushedSinceAdvance;
        await session.ExecuteAsync("""
            UPDATE partial_replica.delivery
               SET last_tx = $2::text::xid8, last_change_id = $3, delivered_at = clock_timestamp(), last_error = NULL,
                   last_error_since = NULL, breaker_until = NULL,
                   last_push_at = CASE WHEN $5 THEN clock_timestamp() ELSE last_push_at END,
                   needs_reconcile = needs_reconcile AND NOT $4, updated_at = clock_timestamp()
             WHERE follower = $1
            """, cancellationToken, _follower.Name, to.Tx.ToString(System.Globalization.CultureInfo.InvariantCulture), to.ChangeId, reconciled, pushed);
        _pushedSinceAdvance = false;
    }

    private async Task RecordErrorAsync(Exception error, CancellationToken cancellationToken)
    {
        // The pause left, measured here; the leader turns it into a time on its own clock.
        var breakerTicks = Interlocked.Read(ref _breakerUntilTicks);
        TimeSpan? breakerUntil = breakerTicks == 0 ? null : new DateTimeOffset(breakerTicks, TimeSpan.Zero) - DateTimeOffset.UtcNow;
        try
        {
            if (error is BrokenCircuitException)
            {
                // The failure that opened the breaker is recorded once, as the cause; later refusals of the open
                // breaker only move its pause.
                var cause = Interlocked.Exchange(ref _breakingCause, null) ?? error.InnerException;
                if (cause is not null)
                {
                    await _errors.RecordAsync(ErrorCause.Describe(cause, _follower.AgentUrl), breakerUntil, cancellationToken);
                }
                else
                {
                    await _errors.RecordBreakerAsync(breakerUntil, cancellationToken);
                }
            }
            else
            {
                // The attempt that opened the breaker also ends this push with its own exception: recorded here, not twice.
                Interlocked.CompareExchange(ref _breakingCause, null, error);
                await _errors.RecordAsync(ErrorCause.Describe(error, _follower.AgentUrl), breakerUntil, cancellationToken);
            }
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // The leader itself is unreachable; the error is in the log and the next attempt will retry.
            LogMessages.PushErrorNotRecorded(_logger, _follower.Name, e);
        }
    }
}
