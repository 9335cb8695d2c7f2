using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// Decides how a gateway learns of new changes, and routes them: whatever the mode, the gate alone reads what came
/// after its outbox horizon (<see cref="OutboxReader.ConcernedAsync"/>, one statement) and wakes only the workers of
/// the followers it concerns; the other workers move their cursors across it unread (<see cref="FollowerWorker.Unconcerned"/>),
/// so a commit costs the gateway work for the followers granted what changed, not for every follower. At a low rate of
/// changes, it asks writers for NOTIFY wake-ups (its row in <c>partial_replica.listeners</c> says waiting), and each
/// notification has it read at once: a notification is the fastest wake-up, and commits that seldom overlap lose nothing
/// to it. Busy (at least <see cref="DispatchOptions.HotChanges"/> changes within <see cref="DispatchOptions.HotPeriod"/>),
/// it tells writers not to notify (each notifying commit serialises the leader's commits) and reads every few
/// milliseconds instead (less often while it finds only changes no follower holds: <see cref="NextPollInterval"/>); it
/// stays busy until fewer than half as many came within the period. The horizon is examined without a gap whatever the
/// mode, so a change that slipped between notifications and polling is still found: turning idle, the gate reads at
/// once and again when writers' remembered answers have run out (<see cref="WritersRemember"/>); idle, it reads at
/// least every <see cref="DispatchOptions.PollInterval"/> without a notification. Starting, it takes the horizon and
/// wakes every worker once (each reads from its own cursor up to there); the workers' own poll bounds anything left.
/// </summary>
internal sealed class WakeupGate(NpgsqlDataSource leader, DispatchOptions options, ILogger logger)
{
    private static readonly TimeSpan SeenEvery = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a writing session remembers that no gateway wanted a wake-up (leader baseline: 50 ms), with a
    /// margin for the commit that follows the check.
    /// </summary>
    internal static readonly TimeSpan WritersRemember = TimeSpan.FromMilliseconds(50 + 20);

    private readonly WakeSignal _activity = new();

    // 1 when a notification came since the gate last read (it reads at once, whatever else woke it).
    private int _notified;

    // When the last HotChanges changes were seen, oldest at _next (a ring; 0: not yet).
    private readonly long[] _seenAt = new long[Math.Max(2, options.HotChanges)];
    private int _next;

    /// <summary>A notification came (one committed transaction): the gate reads what came after its horizon now.</summary>
    public void Notified()
    {
        Interlocked.Exchange(ref _notified, 1);
        ReportChanges(1);
    }

    /// <summary>Has the gate read what came after its horizon now (notifications may have been missed).</summary>
    public void ReadNow()
    {
        Interlocked.Exchange(ref _notified, 1);
        _activity.Pulse();
    }

    /// <summary>Changes were seen: a notification (one committed transaction) or the horizon poll's count.</summary>
    public void ReportChanges(long count)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_seenAt)
        {
            for (var i = 0; i < Math.Min(count, _seenAt.Length); i++)
            {
                _seenAt[_next] = now;
                _next = (_next + 1) % _seenAt.Length;
            }
        }

        _activity.Pulse();
    }

    /// <summary>Busy: the last <c>HotChanges</c> changes (half as many while already busy) came within <c>HotPeriod</c>.</summary>
    private bool IsHot(bool wasHot)
    {
        long at;
        lock (_seenAt)
        {
            var needed = wasHot ? _seenAt.Length / 2 : _seenAt.Length;
            at = _seenAt[(_next - needed + _seenAt.Length) % _seenAt.Length];
        }

        return at != 0 && Stopwatch.GetElapsedTime(at) < options.HotPeriod;
    }

    /// <summary>
    /// Runs until cancelled: <paramref name="wakeAll"/> when it starts (every worker reads up to the horizon from its
    /// own cursor), then <paramref name="examined"/> for each range after the horizon it read (from, to, the followers
    /// it concerns).
    /// </summary>
    public async Task RunAsync(Action wakeAll, Action<OutboxCursor, OutboxCursor, IReadOnlyCollection<string>> examined, CancellationToken cancellationToken)
    {
        bool? waiting = null;
        OutboxCursor? horizon = null;
        var pollInterval = options.HotPollInterval;
        var seen = Stopwatch.StartNew();
        var sinceRead = Stopwatch.StartNew();
        Stopwatch? sinceIdle = null;

        // One session of its own: the horizon is read at every notification, and every few milliseconds while writers are busy.
        NpgsqlConnection? session = null;
        try
        {
            await PollAsync();
        }
        finally
        {
            // An unexpected failure leaves the gate to its supervisor, which starts it again with a new session.
            if (session is not null)
            {
                await session.DisposeAsync();
            }
        }

        await RemoveAsync();

        async Task PollAsync()
        {
            var read = true;
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    session ??= await OutboxReader.OpenSessionAsync(leader, cancellationToken);
                    var hot = IsHot(waiting == false);
                    if (waiting != !hot || seen.Elapsed >= SeenEvery)
                    {
                        await SetWaitingAsync(session, !hot, cancellationToken);
                        seen.Restart();
                        if (!hot && waiting != true)
                        {
                            // Notifications are back on: what was committed while they were off is read now, and again
                            // once writers that skipped the check since are bound to have asked (leader baseline).
                            sinceIdle = Stopwatch.StartNew();
                            read = true;
                        }
                        else if (hot && waiting != false)
                        {
                            pollInterval = options.HotPollInterval;
                        }

                        waiting = !hot;
                    }

                    var notified = Interlocked.Exchange(ref _notified, 0) == 1;
                    if (horizon is null)
                    {
                        // Every worker reads up to here from its own cursor; what comes after, the gate examines.
                        horizon = await OutboxReader.HorizonAsync(session, cancellationToken);
                        wakeAll();
                        read = false;
                        sinceRead.Restart();
                    }
                    else if (read || hot || notified || sinceRead.Elapsed >= options.PollInterval)
                    {
                        read = false;
                        sinceRead.Restart();
                        if (await OutboxReader.ConcernedAsync(session, horizon.Value, options.BatchSize, cancellationToken) is { } fresh)
                        {
                            examined(horizon.Value, fresh.Horizon, fresh.Followers);
                            horizon = fresh.Horizon;
                            if (hot)
                            {
                                // Idle, each notification counted its commit already.
                                ReportChanges(fresh.Count);
                            }

                            pollInterval = NextPollInterval(pollInterval, fresh.Followers.Length > 0, options);
                            if (fresh.More)
                            {
                                read = true;
                                continue;
                            }
                        }
                    }

                    if (hot)
                    {
                        sinceIdle = null;
                        await Task.Delay(pollInterval, cancellationToken);
                    }
                    else if (sinceIdle is not null && sinceIdle.Elapsed >= WritersRemember)
                    {
                        sinceIdle = null;
                        read = true;
                    }
                    else
                    {
                        var timeout = Min(SeenEvery - seen.Elapsed, options.PollInterval - sinceRead.Elapsed);
                        if (sinceIdle is not null)
                        {
                            timeout = Min(timeout, WritersRemember - sinceIdle.Elapsed);
                        }

                        await _activity.WaitAsync(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero, cancellationToken);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    // The horizon stays: the next session reads on from it, so nothing committed meanwhile goes unexamined.
                    LogMessages.WakeupGateFailed(logger, (int)options.PollInterval.TotalMilliseconds, e);
                    waiting = null;
                    read = true;
                    if (session is not null)
                    {
                        await session.DisposeAsync();
                        session = null;
                    }

                    await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>
    /// The wait before a busy gateway's next horizon poll: <see cref="DispatchOptions.HotPollInterval"/> after a poll
    /// that found changes a follower holds; after one that found only changes no follower holds, twice the last
    /// wait, up to <see cref="DispatchOptions.QuietPollInterval"/>.
    /// </summary>
    internal static TimeSpan NextPollInterval(TimeSpan last, bool concerned, DispatchOptions options) =>
        concerned
            ? options.HotPollInterval
            : TimeSpan.FromTicks(Math.Clamp(last.Ticks * 2, options.HotPollInterval.Ticks, Math.Max(options.QuietPollInterval.Ticks, options.HotPollInterval.Ticks)));

    private async Task SetWaitingAsync(NpgsqlConnection session, bool waiting, CancellationToken cancellationToken)
    {
        await session.ExecuteAsync("""
            INSERT INTO partial_replica.listeners (instance, waiting, seen_at) VALUES ($1, $2, clock_timestamp())
            ON CONFLICT (instance) DO UPDATE SET waiting = EXCLUDED.waiting, seen_at = EXCLUDED.seen_at
            """, cancellationToken, options.InstanceId, waiting);
    }

    /// <summary>On a clean stop the row goes; a killed gateway's row stops counting after 5 s unseen.</summary>
    private async Task RemoveAsync()
    {
        try
        {
            await using var connection = await leader.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync("DELETE FROM partial_replica.listeners WHERE instance = $1", CancellationToken.None, options.InstanceId);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
        {
            LogMessages.ListenerRowNotRemoved(logger, e);
        }
    }
}
