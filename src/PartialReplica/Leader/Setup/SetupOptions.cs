
using PartialReplica.Conjur;

namespace PartialReplica.Leader.Setup;

/// <summary>What <c>partial-replica setup</c> needs besides the leader connection.</summary>
public sealed record SetupOptions
{
    /// <summary>The Conjur account (<c>PARTIALREPLICA_ACCOUNT</c>, default <c>default</c>).</summary>
    public string Account { get; init; } = "default";

    /// <summary>
    /// An admin connection string for the relay database (<c>--relay</c>, <c>PARTIALREPLICA_RELAY</c>): on a server of its
    /// own (the production default) or not. Null: the relay recorded by an earlier run, else a database
    /// <c>partial_replica_relay</c> in the leader's cluster (allowed only when its pg_hba.conf confines follower logins).
    /// </summary>
    public string? RelayConnectionString { get; init; }

    /// <summary>
    /// Whether to make the relay. Only a leader that will never have followers (a policy store under test) skips it;
    /// <c>follower init</c> then refuses with a clear error.
    /// </summary>
    public bool CreateRelay { get; init; } = true;

    /// <summary>
    /// The data key (<c>CONJUR_DATA_KEY</c>) that encrypts the API key issued here, as Conjur stores it. Needed only when
    /// a key is issued (a role that already has one keeps it).
    /// </summary>
    public Slosilo? DataKey { get; init; }
}
