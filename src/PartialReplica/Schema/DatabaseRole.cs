namespace PartialReplica.Schema;

/// <summary>Which side of replication a database is on; it decides which migrations apply.</summary>
public enum DatabaseRole
{
    /// <summary>The leader: Conjur's rules, secrets capture, bookkeeping.</summary>
    Leader,

    /// <summary>
    /// A follower: the same tables, secrets only as pushed; no secrets_version trigger and no foreign key from secrets
    /// to resources (on a database Conjur made, Conjur's other rules stay: they do not fire for replicated rows).
    /// </summary>
    Follower,

    /// <summary>
    /// The relay (S6): the published tables only, received from the leader and republished to followers, so a
    /// follower's login never reaches the leader database or its write stream.
    /// </summary>
    Relay,
}
