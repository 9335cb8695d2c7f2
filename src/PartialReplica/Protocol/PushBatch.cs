
namespace PartialReplica.Protocol;

/// <summary>
/// What the gateway sends a follower agent: the whole current state of some variables. Values are the
/// stored Slosilo ciphertext, copied byte for byte; the agent never needs the data key.
/// </summary>
/// <param name="BatchId">Unique per push attempt, for the agent's log.</param>
/// <param name="Gateway">The pushing gateway instance.</param>
/// <param name="Follower">The follower this batch is addressed to.</param>
/// <param name="Variables">Each variable's state.</param>
/// <param name="SweepBefore">
/// With a full reconcile's batches: the stamp taken before the reconcile's first page. Every
/// variable the reconcile pushes gets an applied state at least that new, so in the batch's range
/// (<paramref name="SweepAfter"/>, <paramref name="SweepThrough"/>] the agent removes every secret whose applied
/// state is older (or missing) and that the batch does not carry. The pages' ranges run from the first id to the
/// last and the last batch's from there on, so together they cover every id in any order. Zero: no sweep.
/// </param>
/// <param name="SweepAfter">The sweep range's exclusive lower bound (the previous page's last id); null: open.</param>
/// <param name="SweepThrough">The sweep range's inclusive upper bound (this page's last id); null: open.</param>
/// <param name="SweepEnd">
/// With a reconcile's last batch: the stamp read after its last page. The variables that batch's sweep removes are
/// tombstoned at it, so an older push cannot bring them back. Zero otherwise.
/// </param>
public sealed record PushBatch(
    string BatchId, string Gateway, string Follower, IReadOnlyList<VariableState> Variables,
    long SweepBefore = 0, string? SweepAfter = null, string? SweepThrough = null, long SweepEnd = 0)
{
    /// <summary>
    /// The newest leader position the batch claims (its states' stamps, its sweep's first and end stamps): the gateway
    /// commits a heartbeat at least this far before sending it, and the agent applies it only once its follower has
    /// replayed such a heartbeat.
    /// </summary>
    public long NewestStamp()
    {
        var newest = Math.Max(SweepBefore, SweepEnd);
        foreach (var variable in Variables)
        {
            newest = Math.Max(newest, variable.Stamp);
        }

        return newest;
    }
}

/// <summary>
/// A variable's state as read on the leader. <paramref name="Stamp"/> is the leader's WAL insert position
/// read just before the state was read: a newer state always has a larger stamp.
/// </summary>
/// <param name="Id">The variable's resource id.</param>
/// <param name="Stamp">Leader WAL position (as a number) the state is at least as new as.</param>
/// <param name="Versions">The kept versions the follower may hold; empty means "hold none".</param>
public sealed record VariableState(string Id, long Stamp, IReadOnlyList<SecretVersion> Versions);

/// <summary>One stored version of a secret.</summary>
/// <param name="Version">Conjur's version number.</param>
/// <param name="Value">The Slosilo ciphertext exactly as stored on the leader.</param>
/// <param name="ExpiresAt">Conjur's expiry, if any.</param>
public sealed record SecretVersion(int Version, byte[] Value, DateTime? ExpiresAt);

/// <summary>What an agent applied from one batch.</summary>
/// <param name="Variables">Variables in the batch.</param>
/// <param name="Skipped">Variables whose state was not newer than what the follower holds.</param>
/// <param name="Upserts">Secret versions written.</param>
/// <param name="Deletes">Secret versions removed.</param>
public sealed record ApplyReport(int Variables, int Skipped, int Upserts, int Deletes);
