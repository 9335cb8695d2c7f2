using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Capture;
using PartialReplica.Schema;

namespace PartialReplica.Push;

/// <summary>
/// Decides how a gateway learns of new changes. Idle, it asks writers for NOTIFY wake-ups (its row in
/// <c>partial_replica.listeners</c> says waiting). Busy, it tells writers not to notify (each notifying commit
/// serialises the leader's commits) and instead polls the outbox horizon every few milliseconds, waking
/// the workers when it moves. Going idle again, it re-checks after re-enabling notifications, so a change
/// that slipped between the two is still found; the workers' own poll interval bounds anything left.
/// </summary>
internal sealed class WakeupGate(NpgsqlDataSource leader, DispatchOptions options, ILogger logger)
{
    private static readonly TimeSpan SeenEvery = TimeSpan.FromSeconds(1);
    private readonly WakeSignal _activity = new();
    private long _lastActivity = Stopwatch.GetTimestamp();

    /// <summary>A worker found changes (or a notification arrived).</summary>
    public void ReportActivity()
    {
        Interlocked.Exchange(ref _lastActivity, Stopwatch.GetTimestamp());
        _activity.Pulse();
    }

    private bool Hot => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastActivity)) < options.HotPeriod;

    public async Task RunAsync(Action wakeAll, CancellationToken cancellationToken)
    {
        bool? waiting = null;
        var horizon = OutboxCursor.Start;
        var seen = Stopwatch.StartNew();

        // One session of its own: the horizon is polled every few milliseconds while writers are busy.
        NpgsqlConnection? session = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                session ??= await OutboxReader.OpenSessionAsync(leader, cancellationToken);
                var hot = Hot;
                if (waiting != !hot || seen.Elapsed >= SeenEvery)
                {
                    await SetWaitingAsync(session, !hot, cancellationToken);
                    seen.Restart();
                    if (!hot && waiting != true)
                    {
                        // Notifications are back on: anything committed while they were off is read now.
                        wakeAll();
                    }

                    waiting = !hot;
                }

                if (hot)
                {
                    var now = await OutboxReader.HorizonAsync(session, cancellationToken);
                    if (now.CompareTo(horizon) != 0)
                    {
                        horizon = now;
                        wakeAll();
                    }

                    await Task.Delay(options.HotPollInterval, cancellationToken);
                }
                else
                {
                    await _activity.WaitAsync(SeenEvery, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException)
            {
                LogMessages.ListenFailed(logger, e.GetType().Name, (int)options.PollInterval.TotalMilliseconds);
                waiting = null;
                if (session is not null)
                {
                    await session.DisposeAsync();
                    session = null;
                }

                await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        if (session is not null)
        {
            await session.DisposeAsync();
        }

        await RemoveAsync();
    }

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
            LogMessages.ListenFailed(logger, e.GetType().Name, 0);
        }
    }
}
