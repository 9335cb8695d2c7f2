
using PartialReplica.Conjur;

namespace PartialReplica.Enrollment;

/// <summary>What <c>partial-replica follower init</c> needs besides the two connections.</summary>
public sealed record FollowerInitOptions
{
    /// <summary>The follower's host identifier (<c>conjur/followers/east-1</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The Conjur account.</summary>
    public string Account { get; init; } = "default";

    /// <summary>Where the follower's agent listens, recorded for the gateway's pushes.</summary>
    public string? AgentUrl { get; init; }

    /// <summary>
    /// How the follower's server reaches the relay it subscribes to, when it differs from how this process
    /// does, e.g. a compose service name. Credentials are made by init.
    /// </summary>
    public string? PublisherHost { get; init; }

    /// <summary>The relay's port as the follower's server sees it, with <see cref="PublisherHost"/>.</summary>
    public int? PublisherPort { get; init; }

    /// <summary>
    /// An admin connection string for the relay (<c>PARTIALREPLICA_RELAY</c>); null: the location setup recorded on
    /// the leader, with the leader's credentials.
    /// </summary>
    public string? RelayConnectionString { get; init; }

    /// <summary>How long to wait for the subscription's initial copy; null returns at once.</summary>
    public TimeSpan? WaitForInitialCopy { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The data key (<c>CONJUR_DATA_KEY</c>) that encrypts the API key issued here, as Conjur stores it. Needed only when
    /// a key is issued (a role that already has one keeps it).
    /// </summary>
    public Slosilo? DataKey { get; init; }
}
