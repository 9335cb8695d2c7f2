using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Capture;
using PartialReplica.Heartbeat;
using PartialReplica.Schema;
using PartialReplica.Setup;
using PartialReplica.Supervision;

namespace PartialReplica.Push;

/// <summary>
/// The gateway's push side (SPEC F6): LISTENs for change wake-ups (reconnecting with backoff), polls as
/// a fallback, runs one <see cref="FollowerWorker"/> per registered follower, beats the heartbeat and
/// prunes the outbox. Nothing depends on a notification arriving: the outbox and cursors are the truth. Each of
/// these loops, and each worker, runs under <paramref name="supervisor"/> (R8; named in <see cref="Loops"/>): a
/// failure a loop does not expect is logged with its stack trace, reported, and the loop restarts.
/// </summary>
public sealed class Dispatcher(NpgsqlDataSource leader, IBatchSender sender, DispatchOptions options, ILogger logger, LoopSupervisor? supervisor = null)
{
    /// <summary>The <c>application_name</c> of the gateway's LISTEN connection on the leader.</summary>
    public const string ListenApplicationName = "partial-replica-listen";

    private readonly LoopSupervisor _supervisor = supervisor ?? new LoopSupervisor(new LoopHealth(), logger);
    private readonly Dictionary<string, (FollowerWorker Worker, Task Task, CancellationTokenSource Stop)> _workers = new(StringComparer.Ordinal);
    private readonly WakeupGate _gate = new(leader, options, logger);
    private readonly WakeSignal _followersChanged = new();

    // Shared by every worker: one heartbeat write covers every batch stamped before it.
    private readonly LeaderBeacon _beacon = new(leader);

    /// <summary>Raised after every push (from worker threads).</summary>
    public event Action<PushEvent>? Pushed;

    /// <summary>Runs until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var outbox = new OutboxReader(leader);
        var loops = new[]
        {
            _supervisor.RunAsync(Loops.Listen, ListenAsync, cancellationToken),
            _supervisor.RunAsync(Loops.WakeupGate, token => _gate.RunAsync(WakeAll, Examined, token), cancellationToken),
            _supervisor.RunPeriodicAsync(Loops.Heartbeat, options.HeartbeatInterval, tickAtStart: true, BeatAsync, cancellationToken),
            _supervisor.RunPeriodicAsync(Loops.Prune, options.PruneInterval, tickAtStart: false, token => PruneAsync(outbox, token), cancellationToken),
        };

        // Refreshed when the followers table notifies (leader baseline), and every interval in case a notification was missed.
        await _supervisor.RunAsync(Loops.Followers, async token =>
        {
            while (true)
            {
                await RefreshFollowersAsync(token);
                await _followersChanged.WaitAsync(options.FollowersRefreshInterval, token);
            }
        }, cancellationToken);

        // The supervisor ends a loop only once cancelled (or when the loop returns): nothing to suppress here.
        List<Task> workers;
        lock (_workers)
        {
            workers = [.. _workers.Values.Select(w => w.Task)];
        }

        await Task.WhenAll(workers.Concat(loops));
    }

    /// <summary>The names the dispatcher's loops are supervised (and reported by <c>/health/ready</c>) under.</summary>
    public static class Loops
    {
        public const string Listen = "dispatch.listen";
        public const string WakeupGate = "dispatch.wakeup-gate";
        public const string Heartbeat = "dispatch.heartbeat";
        public const string Prune = "dispatch.prune";
        public const string Followers = "dispatch.followers";

        /// <summary>The worker that pushes to <paramref name="follower"/>.</summary>
        public static string Worker(string follower) => "push:" + follower;
    }

    /// <summary>Re-reads the registered followers now (a gateway of the tier changed them; SPEC F14).</summary>
    public void FollowersChanged() => _followersChanged.Pulse();

    /// <summary>Wakes every worker (what a notification does).</summary>
    public void WakeAll()
    {
        lock (_workers)
        {
            foreach (var (worker, _, _) in _workers.Values)
            {
                worker.Wake.Pulse();
            }
        }
    }

    /// <summary>
    /// The gate's poll examined the changes after <paramref name="from"/> through <paramref name="to"/>: wakes the
    /// workers of the followers they concern; the others move across them without reading.
    /// </summary>
    private void Examined(OutboxCursor from, OutboxCursor to, IReadOnlyCollection<string> concerned)
    {
        lock (_workers)
        {
            foreach (var (name, (worker, _, _)) in _workers)
            {
                if (concerned.Contains(name))
                {
                    worker.Wake.Pulse();
                }
                else
                {
                    worker.Unconcerned.Add(from, to);
                }
            }
        }
    }

    /// <summary>An operator's wake-up may follow an ordered reconcile: every worker re-reads its delivery row.</summary>
    private void RecheckAll()
    {
        lock (_workers)
        {
            foreach (var (worker, _, _) in _workers.Values)
            {
                worker.RecheckDelivery();
            }
        }
    }

    private async Task RefreshFollowersAsync(CancellationToken cancellationToken)
    {
        List<FollowerEndpoint> followers;
        try
        {
            followers = await ReadFollowersAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            LogMessages.FollowersReadFailed(logger, e);
            return;
        }

        lock (_workers)
        {
            // A follower no longer registered (or without an agent URL) loses its worker, which releases the follower's lock.
            var listed = followers.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _workers.Keys.Where(name => !listed.Contains(name)).ToList())
            {
                _workers[gone].Stop.Cancel();
                _workers.Remove(gone);
                _supervisor.Health.MarkUp(Loops.Worker(gone));
            }

            foreach (var follower in followers)
            {
                if (_workers.TryGetValue(follower.Name, out var existing) && existing.Worker.Endpoint == follower)
                {
                    continue;
                }

                // New follower, or its agent moved: a fresh worker (the old one stops at its next wait).
                // Its supervision stops with it (a worker that failed is not restarted after it was replaced).
                var worker = new FollowerWorker(leader, follower, sender, _beacon, options, logger, OnPushed);
                // Not disposed: a stopped worker may still be looking at its token; one small registration per change of
                // a follower's record lives as long as the dispatcher.
                var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var task = Task.Run(() => _supervisor.RunAsync(Loops.Worker(follower.Name), worker.RunAsync, stop.Token), CancellationToken.None);
                _workers[follower.Name] = (worker, task, stop);
                existing.Stop?.Cancel();
            }
        }
    }

    private void OnPushed(PushEvent pushed)
    {
        LogMessages.Pushed(logger, pushed.Follower, pushed.Variables, pushed.Upserts, pushed.Deletes, pushed.Milliseconds);
        PushMetrics.RecordPush(pushed);
        Pushed?.Invoke(pushed);
    }

    private async Task<List<FollowerEndpoint>> ReadFollowersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection,
            "SELECT name, role_id, agent_url FROM partial_replica.followers WHERE agent_url IS NOT NULL ORDER BY name");
        var followers = new List<FollowerEndpoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            followers.Add(new FollowerEndpoint(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return followers;
    }

    /// <summary>
    /// LISTEN with reconnect and exponential backoff; every notification wakes all workers, and an operator's
    /// (<see cref="ChangeNotifier.RecheckPayload"/>) also has them re-read their delivery rows.
    /// </summary>
    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await leader.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, notification) =>
                {
                    if (notification.Channel == ReplicationRoles.FollowersChannel)
                    {
                        _followersChanged.Pulse();
                        return;
                    }

                    _gate.ReportChanges(1);
                    if (notification.Payload == ChangeNotifier.RecheckPayload)
                    {
                        RecheckAll();
                    }

                    WakeAll();
                };

                // Named so operators (and fault tests) find this backend in pg_stat_activity; the pool's
                // reset (DISCARD ALL) clears the name when the connection goes back to the pool.
                await connection.ExecuteAsync("SELECT set_config('application_name', $1, false)", cancellationToken, ListenApplicationName);
                await connection.ExecuteAsync($"LISTEN {SqlIdentifier.Quote(ReplicationRoles.ChangesChannel)}", cancellationToken);
                await connection.ExecuteAsync($"LISTEN {SqlIdentifier.Quote(ReplicationRoles.FollowersChannel)}", cancellationToken);
                delay = TimeSpan.FromMilliseconds(100);

                // Changes (and followers) committed while we were not listening are found by the next read.
                WakeAll();
                _followersChanged.Pulse();
                while (true)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
            {
                LogMessages.ListenFailed(logger, (int)delay.TotalMilliseconds, e);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 100)), cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _beacon.BeatAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            LogMessages.HeartbeatFailed(logger, e);
        }
    }

    private async Task PruneAsync(OutboxReader outbox, CancellationToken cancellationToken)
    {
        try
        {
            var pruned = await outbox.PruneAsync(cancellationToken);
            if (pruned > 0)
            {
                LogMessages.OutboxPruned(logger, pruned);
            }
        }
        catch (NpgsqlException e)
        {
            LogMessages.PruneFailed(logger, e);
        }
    }
}
