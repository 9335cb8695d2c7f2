using PartialReplica.Protocol;

namespace PartialReplica.Leader.Dispatch;

/// <summary>A registered follower as the dispatcher sees it.</summary>
/// <param name="Name">Host identifier (<c>conjur/followers/east-1</c>).</param>
/// <param name="RoleId">Its role (<c>default:host:conjur/followers/east-1</c>); tokens are addressed to it.</param>
/// <param name="AgentUrl">Where its agent listens; null until recorded.</param>
public sealed record FollowerEndpoint(string Name, string RoleId, string? AgentUrl);

/// <summary>Delivers a batch to a follower's agent and returns what it applied.</summary>
public interface IBatchSender
{
    Task<ApplyReport> SendAsync(FollowerEndpoint follower, PushBatch batch, CancellationToken cancellationToken);

    /// <summary>
    /// Readies pushes to <paramref name="follower"/> while the caller reads what to send: what
    /// <see cref="SendAsync"/> would otherwise do first (sign its token, connect to its agent). A failure here
    /// is the caller's to log; the send meets it again and retries.
    /// </summary>
    Task PrepareAsync(FollowerEndpoint follower, CancellationToken cancellationToken);
}

/// <summary>One push, as <c>listen</c> prints it.</summary>
public sealed record PushEvent(string Follower, int Variables, int Upserts, int Deletes, double Milliseconds, bool Reconcile);
