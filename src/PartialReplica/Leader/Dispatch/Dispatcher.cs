using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Leader.Gateways;
using PartialReplica.Leader.Heartbeat;
using PartialReplica.Leader.Setup;
using PartialReplica.Schema;
using PartialReplica.Supervision;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// The gateway's push side (SPEC F6): LISTENs for change wake-ups (reconnecting with backoff), polls as
/// a fallback, runs one <see cref="FollowerWorker"/> per registered follower that this gateway serves, beats the
/// heartbeat and prunes the outbox. Nothing depends on a notification arriving: the outbox and cursors are the
/// truth. Each of these loops, and each worker, runs under <paramref name="supervisor"/> (R8; named in
/// <see cref="Loops"/>): a failure a loop does not expect is logged with its stack trace, reported, and the loop restarts.
/// Pushes and failures are counted on <paramref name="metrics"/>, the host's instance.
/// </summary>
/// <remarks>
/// Several gateways share the followers (issue 26): each keeps a lease in <c>partial_replica.gateways</c>
/// (<see cref="GatewayRegistry"/>) and serves the followers that <see cref="Rendezvous"/> gives it among the live
/// gateways, re-read at every renewal. Until its first renewal, and once its lease has run out by its own count (the
/// leader unreachable), it serves none. The follower's advisory lock still admits one pusher at a time; a worker
/// whose follower moved finishes its push in flight before it lets the lock go. <paramref name="publicUrl"/> gives
/// the URL recorded beside this gateway's id (asked at each renewal: it may be known only once the server listens).
/// </remarks>
public sealed class Dispatcher(
    NpgsqlDataSource leader, IBatchSender sender, DispatchOptions options, ILogger logger, PushMetrics metrics, LoopSupervisor? supervisor = null,
    Func<string?>? publicUrl = null)
{
    /// <summary>The <c>application_name</c> of the gateway's LISTEN connection on the leader.</summary>
    public const string ListenApplicationName = "partial-replica-listen";

    private readonly LoopSupervisor _supervisor = supervisor ?? new LoopSupervisor(new LoopHealth(), logger);
    private readonly Dictionary<string, (FollowerWorker Worker, Task Task, CancellationTokenSource Stop)> _workers = new(StringComparer.Ordinal);
    // Workers told to stop, still carrying a push to its end; awaited when the dispatcher stops.
    private readonly List<Task> _stopping = [];
    private readonly GatewayRegistry _registry = new(leader);

    // The live gateways at the latest renewal, and when this gateway's lease ends by its own count (null: not yet
    // registered). The registered followers at the latest read (null: not read yet).
    private volatile Lease? _lease;
    private volatile IReadOnlyList<FollowerEndpoint>? _followers;
    private CancellationToken _stopped;
    private readonly WakeupGate _gate = new(leader, options, logger);
    private readonly WakeSignal _followersChanged = new();

    // Shared by every worker: one heartbeat write covers every batch stamped before it.
    private readonly LeaderBeacon _beacon = new(leader);

    /// <summary>Raised after every push (from worker threads).</summary>
    public event Action<PushEvent>? Pushed;

    /// <summary>Runs until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _stopped = cancellationToken;
        var outbox = new OutboxReader(leader);
        var loops = new[]
        {
            _supervisor.RunAsync(Loops.Lease, LeaseAsync, cancellationToken),
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

        // The supervisor ends a loop only once cancelled (or when the loop returns): nothing to suppress here. Every
        // worker was told to stop by the same token and ends once its push in flight is acknowledged (or aborted).
        await Task.WhenAll(loops);
        List<Task> workers;
        lock (_workers)
        {
            workers = [.. _workers.Values.Select(w => w.Task), .. _stopping];
        }

        await Task.WhenAll(workers);
        await UnregisterAsync();
    }

    /// <summary>The followers this gateway serves now (those it runs a worker for), in name order.</summary>
    public IReadOnlyList<string> Served
    {
        get
        {
            lock (_workers)
            {
                return [.. _workers.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The names the dispatcher's loops are supervised (and reported by <c>/health/ready</c>) under.</summary>
    public static class Loops
    {
        public const string Listen = "dispatch.listen";
        public const string WakeupGate = "dispatch.wakeup-gate";
        public const string Heartbeat = "dispatch.heartbeat";
        public const string Prune = "dispatch.prune";
        public const string Followers = "dispatch.followers";
        public const string Lease = "dispatch.lease";

        /// <summary>The worker that pushes to <paramref name="follower"/>.</summary>
        public static string Worker(string follower) => "push:" + follower;
    }

    /// <summary>Re-reads the registered followers now (a gateway of the tier changed them; SPEC F14).</summary>
    public void FollowersChanged() => _followersChanged.Pulse();

    /// <summary>Wakes every worker (the gate starting, an operator's wake-up): each reads the outbox from its own cursor.</summary>
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
        try
        {
            _followers = await ReadFollowersAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            LogMessages.FollowersReadFailed(logger, e);
        }

        Assign();
    }

    /// <summary>
    /// Registers this gateway, then renews its lease every <see cref="DispatchOptions.LeaseRenewInterval"/>; after
    /// each attempt the followers are assigned anew. A renewal that fails keeps the last live set until this
    /// gateway's own lease runs out, counted from before the renewal that set it was sent (so never after the leader's).
    /// </summary>
    private async Task LeaseAsync(CancellationToken cancellationToken)
    {
        var starting = true;
        var failing = false;
        while (true)
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                // Bounded by the lease: an attempt that hangs past it would change nothing.
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(options.LeaseDuration);
                var live = await _registry.RenewAsync(options.InstanceId, publicUrl?.Invoke(), options.LeaseDuration, starting, attempt.Token);
                var previous = _lease;
                _lease = new Lease(live, sent + (long)(options.LeaseDuration.TotalSeconds * Stopwatch.Frequency));
                if (starting || failing || previous is null || !previous.Live.SequenceEqual(live, StringComparer.Ordinal))
                {
                    LogMessages.LiveGateways(logger, options.InstanceId, string.Join(", ", live));
                }

                starting = false;
                failing = false;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested
                                      && e is NpgsqlException or TimeoutException or IOException or OperationCanceledException)
            {
                if (!failing)
                {
                    LogMessages.LeaseRenewFailed(logger, options.InstanceId, e);
                }

                failing = true;
            }

            Assign();
            await Task.Delay(options.LeaseRenewInterval, cancellationToken);
        }
    }

    /// <summary>
    /// Brings the workers to the followers this gateway serves: those registered with an agent URL that rendezvous
    /// hashing over the live gateways gives this one, none while it is not live by its own count. A follower that
    /// moved away (or whose record changed) has its worker stopped; the worker lets the follower go after its push in
    /// flight, or after <see cref="DispatchOptions.DrainTimeout"/>.
    /// </summary>
    private void Assign()
    {
        var lease = _lease;
        var followers = _followers;
        var live = lease is not null && Stopwatch.GetTimestamp() < lease.Until;
        var wanted = !live || followers is null
            ? []
            : followers.Where(f => Rendezvous.Owner(f.Name, lease!.Live) == options.InstanceId).ToDictionary(f => f.Name, StringComparer.Ordinal);

        lock (_workers)
        {
            if (_stopped.IsCancellationRequested)
            {
                return;
            }

            _stopping.RemoveAll(t => t.IsCompleted);
            if (!live && lease is not null && _workers.Count > 0)
            {
                LogMessages.LeaseExpired(logger, options.InstanceId, _workers.Count);
            }

            foreach (var gone in _workers.Keys.Where(name => !wanted.ContainsKey(name)).ToList())
            {
                if (live && followers is not null && followers.Any(f => f.Name == gone))
                {
                    LogMessages.FollowerMoved(logger, gone, Rendezvous.Owner(gone, lease!.Live) ?? "none");
                }

                StopWorker(gone);
            }

            foreach (var follower in wanted.Values)
            {
                if (_workers.TryGetValue(follower.Name, out var existing) && existing.Worker.Endpoint == follower)
                {
                    continue;
                }

                // New here, or its agent moved: a fresh worker, which waits for the follower's lock until the old one
                // (here or on another gateway) has let it go. Its supervision stops with it (a worker that failed is
                // not restarted after it was replaced).
                if (existing.Worker is not null)
                {
                    StopWorker(follower.Name);
                }

                // Neither source is disposed: a stopped worker may still be looking at its tokens; two small
                // registrations per change of a follower's gateway or record live as long as the dispatcher.
                var stop = CancellationTokenSource.CreateLinkedTokenSource(_stopped);
                var abort = new CancellationTokenSource();
                stop.Token.Register(() => abort.CancelAfter(options.DrainTimeout));
                var worker = new FollowerWorker(leader, follower, sender, _beacon, options, logger, metrics, OnPushed, abort.Token);
                var task = Task.Run(() => _supervisor.RunAsync(Loops.Worker(follower.Name), worker.RunAsync, stop.Token), CancellationToken.None);
                _workers[follower.Name] = (worker, task, stop);
            }
        }
    }

    /// <summary>Tells a worker to stop (under the workers' lock); it is awaited when the dispatcher stops.</summary>
    private void StopWorker(string follower)
    {
        var (_, task, stop) = _workers[follower];
        stop.Cancel();
        _workers.Remove(follower);
        _stopping.Add(task);
        _supervisor.Health.MarkUp(Loops.Worker(follower));
    }

    /// <summary>On a clean stop the row goes, so the others take this gateway's followers at their next renewal.</summary>
    private async Task UnregisterAsync()
    {
        try
        {
            using var bounded = new CancellationTokenSource(options.LeaseDuration);
            await _registry.RemoveAsync(options.InstanceId, bounded.Token);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or OperationCanceledException)
        {
            LogMessages.GatewayRowNotRemoved(logger, options.InstanceId, e);
        }
    }

    /// <summary>The live gateways at a renewal, and the <see cref="Stopwatch"/> timestamp when this gateway's lease ends.</summary>
    private sealed record Lease(IReadOnlyList<string> Live, long Until);

    private void OnPushed(PushEvent pushed)
    {
        LogMessages.Pushed(logger, pushed.Follower, pushed.Variables, pushed.Upserts, pushed.Deletes, pushed.Milliseconds);
        metrics.RecordPush(pushed);
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
    /// LISTEN with reconnect and exponential backoff; every notification has the wake-up gate read what came (it wakes
    /// the workers of the followers that concerns), and an operator's (<see cref="ChangeNotifier.RecheckPayload"/>)
    /// also has every worker re-read its delivery row and the outbox.
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

                    if (notification.Payload == ChangeNotifier.RecheckPayload)
                    {
                        RecheckAll();
                        WakeAll();
                    }

                    // The gate reads what came and wakes the workers of the followers it concerns, no others.
                    _gate.Notified();
                };

                // Named so operators (and fault tests) find this backend in pg_stat_activity; the pool's
                // reset (DISCARD ALL) clears the name when the connection goes back to the pool.
                await connection.ExecuteAsync("SELECT set_config('application_name', $1, false)", cancellationToken, ListenApplicationName);
                await connection.ExecuteAsync($"LISTEN {SqlIdentifier.Quote(ReplicationRoles.ChangesChannel)}", cancellationToken);
                await connection.ExecuteAsync($"LISTEN {SqlIdentifier.Quote(ReplicationRoles.FollowersChannel)}", cancellationToken);
                delay = TimeSpan.FromMilliseconds(100);

                // Changes (and followers) committed while we were not listening are found by the gate's next read.
                _gate.ReadNow();
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
