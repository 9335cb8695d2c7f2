using Npgsql;

namespace PartialReplica.Leader.Heartbeat;

/// <summary>
/// Bumps the published heartbeat row so every follower's slot confirms WAL even when no published
/// table changes (a quiet publication on a busy leader would otherwise retain WAL without bound), and carries
/// the leader's WAL position to the followers: an agent applies a batch only once its follower has replayed a
/// beat at least as far as the batch's stamps (see <see cref="LeaderBeacon"/>). The gateway's periodic beat is the
/// dispatcher's supervised heartbeat loop.
/// </summary>
internal sealed class HeartbeatWriter(NpgsqlDataSource leader)
{
    /// <summary>
    /// One beat: the row's time, and its position raised to the leader's WAL insert position read by this
    /// statement (never lowered: another gateway's beat may have written a later one). Returns the position written.
    /// </summary>
    internal const string BeatSql = """
        INSERT INTO partial_replica.heartbeat AS h (id, beat_at, leader_lsn)
        VALUES (1, clock_timestamp(), (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint)
        ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at, leader_lsn = greatest(h.leader_lsn, EXCLUDED.leader_lsn)
        RETURNING leader_lsn
        """;

    /// <summary>Writes one beat; returns the leader position it carries.</summary>
    public async Task<long> BeatAsync(CancellationToken cancellationToken)
    {
        await using var command = leader.CreateCommand(BeatSql);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
