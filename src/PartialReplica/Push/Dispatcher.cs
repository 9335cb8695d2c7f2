using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Capture;
using PartialReplica.Heartbeat;
using PartialReplica.Schema;
using PartialReplica.Setup;

namespace PartialReplica.Push;

/// <summary>
/// The gateway's push side (SPEC F6): LISTENs for change wake-ups (reconnecting with backoff), polls as
/// a fallback, runs one <see cref="FollowerWorker"/> per registered follower, beats the heartbeat and
/// prunes the outbox. Nothing depends on a notification arriving: the outbox and cursors are the truth.
/// </summary>
public sealed class Dispatcher(NpgsqlDataSource leader, IBatchSender sender, DispatchOptions options, ILogger logger)
{
    /// <summary>The <c>application_name</c> of the gateway's LISTEN connection on the leader.</summary>
    public const string ListenApplicationName = "partial-replica-listen";

    private readonly Dictionary<string, (FollowerWorker Worker, Task Task)> _workers = new(StringComparer.Ordinal);
    private readonly WakeupGate _gate = new(leader, options, logger);
    private readonly WakeSignal _followersChanged = new();

    // Shared by every worker: one heartbeat write covers every batch stamped before it.
    private readonly LeaderBeacon _beacon = new(leader);

    /// <summary>Raised after every push (from worker threads).</summary>
    public event Action<PushEvent>? Pushed;

    /// <summary>Runs until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var listen = ListenAsync(cancellationToken);
        var gate = _gate.RunAsync(WakeAll, Examined, cancellationToken);
        var heartbeat = HeartbeatAsync(cancellationToken);
        var prune = PruneAsync(cancellationToken);
        try
        {
            // Refreshed when the followers table notifies (leader baseline), and every interval in case a notification was missed.
            while (true)
            {
                await RefreshFollowersAsync(cancellationToken);
                await _followersChanged.WaitAsync(options.FollowersRefreshInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            await Task.WhenAll(_workers.Values.Select(w => w.Task).Append(listen).Append(gate).Append(heartbeat).Append(prune))
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Wakes every worker (what a notification does).</summary>
    public void WakeAll()
    {
        lock (_workers)
        {
            foreach (var (worker, _) in _workers.Values)
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
            foreach (var (name, (worker, _)) in _workers)
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
            foreach (var (worker, _) in _workers.Values)
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
            LogMessages.PushFailed(logger, "*", e.GetType().Name, e.Message);
            return;
        }

        lock (_workers)
        {
            // A follower no longer registered (or without an agent URL) loses its worker, which releases the follower's lock.
            var listed = followers.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _workers.Keys.Where(name => !listed.Contains(name)).ToList())
            {
                _workers[gone].Worker.Stop();
                _workers.Remove(gone);
            }

            foreach (var follower in followers)
            {
                if (_workers.TryGetValue(follower.Name, out var existing) && existing.Worker.Endpoint == follower)
                {
                    continue;
                }

                // New follower, or its agent moved: a fresh worker (the old one stops at its next wait).
                var worker = new FollowerWorker(leader, follower, sender, _beacon, options, logger, OnPushed);
                _workers[follower.Name] = (worker, Task.Run(() => worker.RunAsync(cancellationToken), cancellationToken));
                if (existing.Worker is not null)
                {
                    existing.Worker.Stop();
                }
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
                LogMessages.ListenFailed(logger, e.GetType().Name, (int)delay.TotalMilliseconds);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 100)), cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.HeartbeatInterval);
        try
        {
            do
            {
                try
                {
                    await _beacon.BeatAsync(cancellationToken);
                }
                catch (NpgsqlException e)
                {
                    LogMessages.PushFailed(logger, "heartbeat", e.GetType().Name, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task PruneAsync(CancellationToken cancellationToken)
    {
        var outbox = new OutboxReader(leader);
        using var timer = new PeriodicTimer(options.PruneInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
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
                    LogMessages.PushFailed(logger, "prune", e.GetType().Name, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
