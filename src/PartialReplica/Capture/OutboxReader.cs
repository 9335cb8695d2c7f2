using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Capture;

/// <summary>Reads the durable change outbox on the leader (SPEC F5).</summary>
public sealed class OutboxReader(NpgsqlDataSource leader)
{
    /// <summary>
    /// The next changes after <paramref name="after"/> that concern <paramref name="follower"/>, from
    /// transactions that can no longer be overtaken (older than the oldest running transaction), each
    /// marked relevant or not by the grant rule in the same round trip.
    /// </summary>
    public async Task<IReadOnlyList<Change>> ReadAsync(
        OutboxCursor after, string follower, string followerRoleId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            WITH batch AS MATERIALIZED (
                SELECT tx, change_id, kind, resource_id, follower, created_at
                  FROM partial_replica.changes
                 WHERE (tx, change_id) > ($1::text::xid8, $2)
                   AND tx < pg_snapshot_xmin(pg_current_snapshot())
                   AND (follower IS NULL OR follower = $3)
                 ORDER BY tx, change_id
                 LIMIT $4),
            granted AS MATERIALIZED (
                SELECT g.resource_id FROM partial_replica.granted_among(
                    $5, ARRAY(SELECT DISTINCT b.resource_id FROM batch b WHERE b.kind = 'upsert')) g)
            SELECT b.tx::text::bigint, b.change_id, b.kind, b.resource_id, b.follower, b.created_at,
                   b.kind <> 'upsert' OR EXISTS (SELECT 1 FROM granted g WHERE g.resource_id = b.resource_id)
              FROM batch b
             ORDER BY b.tx, b.change_id
            """, after.Tx.ToString(System.Globalization.CultureInfo.InvariantCulture), after.ChangeId, follower, limit, followerRoleId);
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
    public async Task<OutboxCursor> HorizonAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT tx::text::bigint, change_id FROM partial_replica.changes
             WHERE tx < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY tx DESC, change_id DESC LIMIT 1
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new OutboxCursor(reader.GetInt64(0), reader.GetInt64(1)) : OutboxCursor.Start;
    }

    /// <summary>Deletes changes every follower is past; returns how many.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync("""
            WITH slowest AS (
                SELECT d.last_tx, d.last_change_id FROM partial_replica.delivery d
                 ORDER BY d.last_tx, d.last_change_id LIMIT 1)
            DELETE FROM partial_replica.changes c USING slowest
             WHERE (c.tx, c.change_id) <= (slowest.last_tx, slowest.last_change_id)
            """, cancellationToken);
    }
}
