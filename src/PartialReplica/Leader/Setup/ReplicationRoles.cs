namespace PartialReplica.Leader.Setup;

/// <summary>Names fixed by SPEC F1.</summary>
public static class ReplicationRoles
{
    /// <summary>NOLOGIN role with SELECT on the published tables only (on the leader and on the relay); every replication login is its member.</summary>
    public const string Reader = "partial_replica_reader";

    /// <summary>The publication of everything but secrets and bookkeeping.</summary>
    public const string Publication = "partial_replica_public";

    /// <summary>The channel the capture trigger notifies (payload always empty).</summary>
    public const string ChangesChannel = "partial_replica_changes";

    /// <summary>The channel a change to the followers table notifies (payload always empty); gateways refresh on it.</summary>
    public const string FollowersChannel = "partial_replica_followers";
}
