using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Capture;

/// <summary>Reads the durable change outbox on the leader (SPEC F5).</summary>
internal sealed class OutboxReader(NpgsqlDataSource leader)
{
    /// <summary>
    /// A session for the statements below, which a gateway runs every few milliseconds. They are prepared
    /// once, but planned for each cursor: a generic plan cannot know that a cursor sits near the end of the
    /// outbox and scanned the whole outbox (100,000 rows after a bulk load) on every read. No JIT: compiling
    /// took hundreds of milliseconds for statements that run in one.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenSessionAsync(NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync("SET plan_cache_mode = force_custom_plan; SET jit = off", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The next changes after <paramref name="after"/> that concern <paramref name="follower"/>, from
    /// transactions that can no longer be overtaken (older than the oldest running transaction), each
    /// marked relevant or not in the same round trip. A new or deleted version is relevant when the
    /// follower's materialised grant table (kept current by every policy load, inside the load's
    /// transaction) holds the variable: a follower never holds a variable it is not granted, because losing
    /// the grant is itself a change ('revoke') that is always relevant, as are grants and requeues.
    /// </summary>
    /// <remarks>Runs often, on the caller's own session, as a prepared statement.</remarks>
    public static async Task<IReadOnlyList<Change>> ReadAsync(
        NpgsqlConnection connection, OutboxCursor after, string follower, string followerRoleId, int limit, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            -- The grant probe is a scalar subquery on purpose, one primary-key lookup per change: as EXISTS the
            -- planner turned it into a hash of the whole grant table (100,000 rows) on every read.
            SELECT c.tx::text::bigint, c.change_id, c.kind, c.resource_id, c.follower, c.created_at,
                   c.kind NOT IN ('upsert', 'delete') OR (
                       SELECT 1 FROM partial_replica.granted g
                        WHERE g.follower_role_id = $5 AND g.resource_id = c.resource_id) IS NOT NULL
              FROM partial_replica.changes c
             WHERE (c.tx, c.change_id) > ($1::text::xid8, $2)
               AND c.tx < pg_snapshot_xmin(pg_current_snapshot())
               AND (c.follower IS NULL OR c.follower = $3)
             ORDER BY c.tx, c.change_id
             LIMIT $4
            """, after.Tx.ToString(System.Globalization.CultureInfo.InvariantCulture), after.ChangeId, follower, limit, followerRoleId);
        await command.PrepareAsync(cancellationToken);
        var changes = new List<Change>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            changes.Add(new Change(
                new OutboxCursor(reader.GetInt64(0), reader.GetInt64(1)),
                reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.GetDateTime(5),
                reader.GetBoolean(6)));
        }

        return changes;
    }

    /// <summary>The newest position every later change is guaranteed to come after.</summary>
    /// <remarks>Polled every few milliseconds while writers are busy, on the caller's own session, prepared.</remarks>
    public static async Task<OutboxCursor> HorizonAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT c.tx::text::bigint, c.change_id FROM partial_replica.changes c
             WHERE c.tx < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY c.tx DESC, c.change_id DESC LIMIT 1
            """);
        await command.PrepareAsync(cancellationToken);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new OutboxCursor(reader.GetInt64(0), reader.GetInt64(1)) : OutboxCursor.Start;
    }

    /// <summary>
    /// What came after <paramref name="after"/> (up to <paramref name="limit"/> changes that can no longer be
    /// overtaken): the new horizon, how many changes, and the names of the followers any of it concerns by the
    /// same rule as <see cref="ReadAsync"/>. Null when nothing came. One statement per read of the wake-up gate, so
    /// followers a change does not concern are not woken to read it; its work grows with the followers granted what
    /// changed, not with all followers.
    /// </summary>
    /// <remarks>Runs on the caller's own session, prepared.</remarks>
    public static async Task<(OutboxCursor Horizon, long Count, string[] Followers, bool More)?> ConcernedAsync(
        NpgsqlConnection connection, OutboxCursor after, int limit, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            WITH fresh AS MATERIALIZED (
                SELECT c.tx, c.change_id, c.kind, c.resource_id, c.follower
                  FROM partial_replica.changes c
                 WHERE (c.tx, c.change_id) > ($1::text::xid8, $2)
                   AND c.tx < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY c.tx, c.change_id
                 LIMIT $3)
            SELECT last.tx::text::bigint, last.change_id, last.n,
                   ARRAY(
                       -- A new or deleted version: the followers granted the variable, one range of the grant
                       -- table's resource index per changed variable. OFFSET 0 keeps the probe a lookup per
                       -- variable: as a join the planner may hash the whole grant table (a million rows) instead.
                       SELECT fo.name
                         FROM (SELECT DISTINCT f.resource_id FROM fresh f WHERE f.kind IN ('upsert', 'delete')) v
                        CROSS JOIN LATERAL (
                            SELECT g.follower_role_id FROM partial_replica.granted g
                             WHERE g.resource_id = v.resource_id OFFSET 0) g
                         JOIN partial_replica.followers fo ON fo.role_id = g.follower_role_id
                       UNION
                       -- A grant, revoke or requeue: its one follower, or every follower when it names none.
                       SELECT fo.name
                         FROM (SELECT DISTINCT f.follower FROM fresh f WHERE f.kind NOT IN ('upsert', 'delete')) o
                         JOIN partial_replica.followers fo ON o.follower IS NULL OR o.follower = fo.name)
              FROM (SELECT f.tx, f.change_id, count(*) OVER () AS n FROM fresh f
                     ORDER BY f.tx DESC, f.change_id DESC LIMIT 1) last
            """, after.Tx.ToString(System.Globalization.CultureInfo.InvariantCulture), after.ChangeId, limit);
        await command.PrepareAsync(cancellationToken);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var count = reader.GetInt64(2);
        return (new OutboxCursor(reader.GetInt64(0), reader.GetInt64(1)), count, reader.GetFieldValue<string[]>(3), count >= limit);
    }

    /// <summary>
    /// Deletes changes every follower is past; returns how many. The same statement raises the prune horizon
    /// (<c>partial_replica.outbox_pruned</c>, the newest transaction any of whose changes it deleted), by which delta
    /// pulls tell a position they can no longer answer (<see cref="Edge.EdgeDeltaQuery"/>): pull clients have no cursor here.
    /// </summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ScalarAsync<int>("""
            WITH slowest AS (
                SELECT d.last_tx, d.last_change_id FROM partial_replica.delivery d
                 ORDER BY d.last_tx, d.last_change_id LIMIT 1),
            gone AS (
                DELETE FROM partial_replica.changes c USING slowest
                 WHERE (c.tx, c.change_id) <= (slowest.last_tx, slowest.last_change_id)
                RETURNING c.tx),
            newest AS (SELECT g.tx FROM gone g ORDER BY g.tx DESC LIMIT 1),
            raised AS (
                UPDATE partial_replica.outbox_pruned p SET tx = newest.tx FROM newest WHERE newest.tx > p.tx)
            SELECT count(*)::int FROM gone
            """, cancellationToken);
    }
}
