
namespace PartialReplica.Follower;

/// <summary>How long an agent waits for its follower to replay up to a batch's stamps (section <c>Agent</c>).</summary>
public sealed record AdmissionOptions
{
    /// <summary>
    /// The longest a batch waits for the follower's replicated heartbeat to reach its stamps before it is refused.
    /// The gateway has committed such a beat before it sends, so this bounds the follower's replication lag that a
    /// push tolerates, and how long a forged stamp holds a request.
    /// </summary>
    public TimeSpan ReplayTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The first pause between two reads of the heartbeat; each next one doubles, up to <see cref="MaxPollInterval"/>.</summary>
    public TimeSpan FirstPollInterval { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The longest pause between two reads of the heartbeat. Short: a push normally waits only for the beat the gateway
    /// committed just before it to replicate (a few ms), and every ms overshot adds to commit-to-visible (bench P3);
    /// a read is one small statement on the follower.
    /// </summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMilliseconds(8);
}
