using PartialReplica.Protocol;

namespace PartialReplica.Leader.Edge;

/// <summary>How a delta pull was answered.</summary>
public enum EdgeDeltaOutcome
{
    /// <summary>The changes since the position, and the next position.</summary>
    Answered,

    /// <summary>
    /// The position cannot be answered: changes after it were pruned from the outbox, the caller registered (again)
    /// after it, or the leader has not reached it (restored from a backup). The client pulls the full list again.
    /// </summary>
    Gone,

    /// <summary>The caller is not a registered follower: the outbox records no grant changes for it, so it has no deltas.</summary>
    NotAFollower,
}

/// <summary>
/// One variable whose state changed for the caller: its current kept versions, or a tombstone
/// (<see cref="Versions"/> null) when the caller may no longer hold it (revoked, deleted, or left without values).
/// </summary>
public sealed record EdgeChange(string Id, IReadOnlyList<SecretVersion>? Versions)
{
    /// <summary>Whether the client drops the variable.</summary>
    public bool IsTombstone => Versions is null;
}

/// <summary>
/// A delta pull's answer: the changed variables ordered by id (bytewise), the position to send next, and whether
/// that position is a continuation of this same delta (<see cref="More"/>) rather than the position to keep.
/// </summary>
public sealed record EdgeDelta(EdgeDeltaOutcome Outcome, IReadOnlyList<EdgeChange> Changes, EdgePosition? Next, bool More)
{
    public static EdgeDelta Gone { get; } = new(EdgeDeltaOutcome.Gone, [], null, false);

    public static EdgeDelta NotAFollower { get; } = new(EdgeDeltaOutcome.NotAFollower, [], null, false);
}
