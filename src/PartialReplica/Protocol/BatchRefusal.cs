
namespace PartialReplica.Protocol;

/// <summary>Why an agent refused a batch (SPEC S6). Each has its own HTTP status at the agent's endpoint.</summary>
public enum RefusalReason
{
    /// <summary>The batch names another follower.</summary>
    Misaddressed,

    /// <summary>
    /// A stamp in the batch is beyond every leader position the follower has replayed within the wait: not yet
    /// replayed (the follower's subscription lags) or beyond the leader (a forged stamp).
    /// </summary>
    BeyondReplayedPosition,

    /// <summary>The follower's own replicated policy does not grant a variable the batch would make visible.</summary>
    Ungranted,
}

/// <summary>A refused batch: the reason and a detail of ids and counts (never a value).</summary>
/// <param name="Reason">Why.</param>
/// <param name="Detail">For logs, the refusals table and the problem body: ids, stamps and counts only.</param>
public sealed record BatchRefusal(RefusalReason Reason, string Detail)
{
    /// <summary>The stable code of <see cref="Reason"/> (problem bodies, the refusals table).</summary>
    public string Code => Reason switch
    {
        RefusalReason.Misaddressed => "misaddressed",
        RefusalReason.BeyondReplayedPosition => "beyond_replayed_position",
        _ => "ungranted",
    };
}
