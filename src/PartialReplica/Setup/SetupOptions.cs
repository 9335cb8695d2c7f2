namespace PartialReplica.Setup;

/// <summary>What <c>partial-replica setup</c> needs besides the leader connection.</summary>
public sealed record SetupOptions
{
    /// <summary>The Conjur account (<c>PARTIALREPLICA_ACCOUNT</c>, default <c>default</c>).</summary>
    public string Account { get; init; } = "default";

    /// <summary>
    /// The password for <c>partial_replica_subscriber</c>. When null, setup generates one the first time
    /// and keeps it in <c>partial_replica.settings</c> for follower init.
    /// </summary>
    public string? SubscriberPassword { get; init; }
}
