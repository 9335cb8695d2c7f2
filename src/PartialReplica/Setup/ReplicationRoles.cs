namespace PartialReplica.Setup;

/// <summary>Names fixed by SPEC F1.</summary>
public static class ReplicationRoles
{
    /// <summary>NOLOGIN role with SELECT on the published tables only.</summary>
    public const string Reader = "partial_replica_reader";

    /// <summary>The login followers' subscriptions use: REPLICATION plus <see cref="Reader"/>.</summary>
    public const string Subscriber = "partial_replica_subscriber";

    /// <summary>The publication of everything but secrets and bookkeeping.</summary>
    public const string Publication = "partial_replica_public";

    /// <summary>The channel the capture trigger notifies (payload always empty).</summary>
    public const string ChangesChannel = "partial_replica_changes";

    /// <summary>The channel a change to the followers table notifies (payload always empty); gateways refresh on it.</summary>
    public const string FollowersChannel = "partial_replica_followers";
}
