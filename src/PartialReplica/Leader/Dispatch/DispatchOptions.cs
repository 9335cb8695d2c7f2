
using PartialReplica.Grants;

namespace PartialReplica.Leader.Dispatch;

/// <summary>How the gateway dispatches (bound from configuration section <c>Dispatch</c>).</summary>
public sealed record DispatchOptions
{
    /// <summary>
    /// This gateway instance: its id in <c>partial_replica.gateways</c> (which followers it serves follows from it) and
    /// in <c>partial_replica.listeners</c>, and written into every batch (agents log who pushed). The gateway host sets
    /// it from <c>Gateway:Id</c> (<c>PARTIALREPLICA_GATEWAY_ID</c>) when given; by default host name and process id.
    /// </summary>
    public string InstanceId { get; init; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>
    /// How often this gateway renews its lease on the leader and re-reads the live gateways (so how soon it notices
    /// one joining or leaving). See <see cref="LeaseDuration"/>.
    /// </summary>
    public TimeSpan LeaseRenewInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a renewal keeps this gateway live (counted on the leader's clock). A gateway killed without a goodbye
    /// loses its followers to the others this long after its last renewal, plus at most one of their renew intervals:
    /// 6 s + 2 s by default. A gateway that cannot renew stops serving when its own lease ends by its own count (from
    /// before the renewal was sent, so never after the leader's).
    /// </summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// When a follower moves to another gateway (or this one stops), its worker finishes the push in flight before it
    /// lets the follower's lock go, so two gateways never apply to one follower at once; a push still running after
    /// this long is aborted.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Fallback poll when no notification arrives (R3 catch-up bound).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a gateway tries to take over followers another instance serves (R5).</summary>
    public TimeSpan TakeoverInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the follower list is re-read besides when the followers table notifies a change (leader baseline).</summary>
    public TimeSpan FollowersRefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Heartbeat writes, so idle followers' slots advance.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Outbox pruning.</summary>
    public TimeSpan PruneInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The gateway is busy (notifications off, horizon polled) while at least <see cref="HotChanges"/> changes came
    /// within this period, and stays busy while half as many do.
    /// </summary>
    public TimeSpan HotPeriod { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// See <see cref="HotPeriod"/>: 60 in 300 ms is 200 committing transactions a second. Below that commits seldom
    /// overlap, so notifying (which serialises them) costs little and wakes the gateway soonest; above it, notifying
    /// would cost busy writers a large share of their commit rate.
    /// </summary>
    public int HotChanges { get; init; } = 60;

    /// <summary>
    /// How often a busy gateway polls the outbox horizon. Each poll wakes the gateway's threads and runs a
    /// statement on the leader, so a shorter interval costs CPU per leader commit; a burst's last change waits
    /// for the next poll, half this on average.
    /// </summary>
    public TimeSpan HotPollInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The longest a busy gateway waits between horizon polls while they find only changes no follower holds (the
    /// interval doubles from <see cref="HotPollInterval"/> after each such poll and returns to it on the first change
    /// a follower holds): a poll that finds nothing to push still costs thread wake-ups and a statement. A change a
    /// follower holds, written amid such a burst, waits up to this long for its poll.
    /// </summary>
    public TimeSpan QuietPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Changes read per batch.</summary>
    public int BatchSize { get; init; } = 2000;

    /// <summary>
    /// Variables per push during a full reconcile (1 to <see cref="GrantedSecretsReader.MaxPageSize"/>): smaller pages
    /// pay more round trips, larger ones keep the agent waiting longer for each (docs/performance.md, P1). A reconcile
    /// holds at most two pages in memory, so this also bounds its memory, whatever the size of the granted set.
    /// </summary>
    public int ReconcileBatchSize { get; init; } = 10000;

    /// <summary>
    /// Variables in a full reconcile's first push; each next page doubles it, up to <see cref="ReconcileBatchSize"/>.
    /// A new follower's agent waits for the first page while the gateway reads it, sends it and the agent decodes it,
    /// so a small first page starts the apply sooner. At least 1 and at most <see cref="ReconcileBatchSize"/>.
    /// </summary>
    public int ReconcileFirstBatchSize { get; init; } = 1000;

    /// <summary>Per-follower circuit: how long it stays open after repeated failures.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>What is wrong with these settings, one sentence each naming the <c>Dispatch:</c> key; empty when nothing.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(InstanceId) || InstanceId.Length > 200 || InstanceId.Any(char.IsControl))
        {
            problems.Add("The gateway id (Gateway:Id, PARTIALREPLICA_GATEWAY_ID) must be 1 to 200 printable characters.");
        }

        foreach (var (name, value) in new[]
                 {
                     (nameof(PollInterval), PollInterval), (nameof(TakeoverInterval), TakeoverInterval),
                     (nameof(FollowersRefreshInterval), FollowersRefreshInterval), (nameof(HeartbeatInterval), HeartbeatInterval),
                     (nameof(PruneInterval), PruneInterval), (nameof(LeaseRenewInterval), LeaseRenewInterval),
                     (nameof(LeaseDuration), LeaseDuration), (nameof(DrainTimeout), DrainTimeout),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add($"Dispatch:{name} must be a positive time span (hh:mm:ss).");
            }
        }

        if (ReconcileBatchSize is < 1 or > GrantedSecretsReader.MaxPageSize)
        {
            problems.Add($"Dispatch:ReconcileBatchSize ({ReconcileBatchSize}) must be between 1 and {GrantedSecretsReader.MaxPageSize} variables.");
        }

        if (ReconcileFirstBatchSize < 1 || ReconcileFirstBatchSize > ReconcileBatchSize)
        {
            problems.Add($"Dispatch:ReconcileFirstBatchSize ({ReconcileFirstBatchSize}) must be at least 1 and at most Dispatch:ReconcileBatchSize ({ReconcileBatchSize}).");
        }

        if (LeaseRenewInterval > TimeSpan.Zero && LeaseDuration < LeaseRenewInterval * 2)
        {
            problems.Add($"Dispatch:LeaseDuration ({LeaseDuration}) must be at least twice Dispatch:LeaseRenewInterval ({LeaseRenewInterval}), so one late renewal does not end the lease.");
        }

        if (LeaseDuration > TimeSpan.FromMinutes(5))
        {
            problems.Add($"Dispatch:LeaseDuration ({LeaseDuration}) must be at most 5 minutes: a killed gateway's followers wait that long for another.");
        }

        return problems;
    }
}
