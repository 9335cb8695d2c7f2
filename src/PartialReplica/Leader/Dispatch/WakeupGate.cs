using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// Decides how a gateway learns of new changes. At a low rate of changes, it asks writers for NOTIFY wake-ups
/// (its row in <c>partial_replica.listeners</c> says waiting): a notification is the fastest wake-up, and
/// commits that seldom overlap lose nothing to it. Busy (at least <see cref="DispatchOptions.HotChanges"/>
/// changes within <see cref="DispatchOptions.HotPeriod"/>), it tells writers not to notify (each notifying
/// commit serialises the leader's commits) and instead reads what came after the outbox horizon every few
/// milliseconds, waking only the workers of followers it concerns (a burst of changes granted to nobody
/// wakes nobody, and the other workers move their cursors across it unread, while the gate polls less often:
/// <see cref="NextPollInterval"/>); it stays busy until fewer than half as many came within the period. On
/// becoming busy, and going idle again, it wakes every worker, so a change that slipped between notifications
/// and polling is still found; going idle, it wakes them once more when writers' remembered answers have run
/// out (<see cref="WritersRemember"/>); the workers' own poll interval bounds anything left.
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

    // When the last HotChanges changes were seen, oldest at _next (a ring; 0: not yet).
    private readonly long[] _seenAt = new long[Math.Max(2, options.HotChanges)];
    private int _next;

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

    public async Task RunAsync(Action wakeAll, Action<OutboxCursor, OutboxCursor, IReadOnlyCollection<string>> examined, CancellationToken cancellationToken)
    {
        bool? waiting = null;
        OutboxCursor? horizon = null;
        var pollInterval = options.HotPollInterval;
        var seen = Stopwatch.StartNew();
        Stopwatch? sinceIdle = null;

        // One session of its own: the horizon is polled every few milliseconds while writers are busy.
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
                            // Notifications are back on: anything committed while they were off is read now, and
                            // again once writers that skipped the check since are bound to have asked (leader baseline).
                            wakeAll();
                            horizon = null;
                            sinceIdle = Stopwatch.StartNew();
                        }

                        waiting = !hot;
                    }

                    if (hot)
                    {
                        sinceIdle = null;
                        if (horizon is null)
                        {
                            // Notifications are off from here on: every worker reads up to now, polling takes the rest.
                            pollInterval = options.HotPollInterval;
                            horizon = await OutboxReader.HorizonAsync(session, cancellationToken);
                            wakeAll();
                        }
                        else if (await OutboxReader.ConcernedAsync(session, horizon.Value, options.BatchSize, cancellationToken) is { } fresh)
                        {
                            examined(horizon.Value, fresh.Horizon, fresh.Followers);
                            horizon = fresh.Horizon;
                            ReportChanges(fresh.Count);

                            pollInterval = NextPollInterval(pollInterval, fresh.Followers.Length > 0, options);
                            if (fresh.More)
                            {
                                continue;
                            }
                        }

                        await Task.Delay(pollInterval, cancellationToken);
                    }
                    else if (sinceIdle is not null && sinceIdle.Elapsed >= WritersRemember)
                    {
                        wakeAll();
                        sinceIdle = null;
                    }
                    else
                    {
                        var timeout = sinceIdle is null ? SeenEvery : WritersRemember - sinceIdle.Elapsed;
                        await _activity.WaitAsync(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero, cancellationToken);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
                {
                    LogMessages.WakeupGateFailed(logger, (int)options.PollInterval.TotalMilliseconds, e);
                    waiting = null;
                    horizon = null;
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
