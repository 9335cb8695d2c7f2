using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Gateways;

/// <summary>
/// A live gateway as status shows it: its id, public URL when known, when this run registered, how long ago it
/// last renewed its lease (by the leader's clock) and how many followers it serves now.
/// </summary>
public sealed record GatewayStatusRow(string Id, string? Url, DateTimeOffset StartedAt, long LeaseAgeMs, long LeaseLeftMs, int Followers);

/// <summary>
/// The gateways registered on the leader (<c>partial_replica.gateways</c>): each renews its own lease; a gateway is
/// live while its lease has not expired by the leader's clock. Rows expired for a minute are pruned by the others'
/// renewals.
/// </summary>
internal sealed class GatewayRegistry(NpgsqlDataSource leader)
{
    /// <summary>
    /// Registers (<paramref name="starting"/>: a new run, so <c>started_at</c> moves) or renews <paramref name="id"/>'s
    /// lease for <paramref name="lease"/> from the leader's clock, and returns the ids of the live gateways, this one
    /// included, in ordinal order. One statement: the renewal and the read see one moment.
    /// </summary>
    public async Task<IReadOnlyList<string>> RenewAsync(string id, string? url, TimeSpan lease, bool starting, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        // A CTE's writes are invisible to the query around it: this gateway's own row comes from RETURNING.
        await using var command = ConnectionExtensions.Command(connection, """
            WITH mine AS (
                INSERT INTO partial_replica.gateways AS g (id, url, lease_until) VALUES ($1, $2, clock_timestamp() + $3)
                ON CONFLICT (id) DO UPDATE
                   SET url = coalesce(EXCLUDED.url, g.url), heartbeat_at = clock_timestamp(), lease_until = EXCLUDED.lease_until,
                       started_at = CASE WHEN $4 OR g.lease_until < clock_timestamp() THEN clock_timestamp() ELSE g.started_at END
                RETURNING id),
            pruned AS (
                DELETE FROM partial_replica.gateways WHERE id <> $1 AND lease_until < clock_timestamp() - interval '1 minute')
            SELECT id FROM partial_replica.gateways WHERE id <> $1 AND lease_until > clock_timestamp()
            UNION ALL
            SELECT id FROM mine
            """, id, (object?)url ?? DBNull.Value, lease, starting);
        var live = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            live.Add(reader.GetString(0));
        }

        live.Sort(StringComparer.Ordinal);
        return live;
    }

    /// <summary>Deletes <paramref name="id"/>'s row (a graceful stop): the others re-assign its followers at their next renewal.</summary>
    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync("DELETE FROM partial_replica.gateways WHERE id = $1", cancellationToken, id);
    }

    /// <summary>The live gateways, in id order, with how many followers each serves (<c>delivery.gateway</c>).</summary>
    public static async Task<List<GatewayStatusRow>> ReadLiveAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT g.id, g.url, g.started_at,
                   (extract(epoch FROM clock_timestamp() - g.heartbeat_at) * 1000)::bigint,
                   (extract(epoch FROM g.lease_until - clock_timestamp()) * 1000)::bigint,
                   (SELECT count(*) FROM partial_replica.delivery d WHERE d.gateway = g.id)::int
              FROM partial_replica.gateways g
             WHERE g.lease_until > clock_timestamp()
             ORDER BY g.id
            """);
        var rows = new List<GatewayStatusRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new GatewayStatusRow(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.GetFieldValue<DateTimeOffset>(2), Math.Max(0, reader.GetInt64(3)), Math.Max(0, reader.GetInt64(4)), reader.GetInt32(5)));
        }

        return rows;
    }
}
