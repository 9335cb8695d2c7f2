namespace PartialReplica.Schema;

/// <summary>Which side of replication a database is on; it decides which migrations apply.</summary>
public enum DatabaseRole
{
    /// <summary>The leader: Conjur's rules, secrets capture, bookkeeping.</summary>
    Leader,

    /// <summary>A follower: the same tables, no triggers or foreign keys, secrets only as pushed.</summary>
    Follower,
}
