using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// A follower's backlog: the outbox changes past its delivery cursor that concern it, and the age of the oldest.
/// The push gauges, the dashboard's lag history and status all read it through <see cref="PendingSql"/>.
/// </summary>
public static class Backlog
{
    /// <summary>
    /// A <c>CROSS JOIN LATERAL</c> named <c>pending</c> (<c>n</c>: undelivered changes; <c>lag_ms</c>: age of the oldest
    /// in ms, null when caught up) for the row <c>d</c> of <c>partial_replica.delivery</c> in the enclosing query.
    /// </summary>
    public const string PendingSql = """
        CROSS JOIN LATERAL (
            SELECT count(*) AS n,
                   (extract(epoch FROM clock_timestamp() - min(c.created_at)) * 1000)::bigint AS lag_ms
              FROM partial_replica.changes c
             WHERE (c.tx, c.change_id) > (d.last_tx, d.last_change_id)
               AND (c.follower IS NULL OR c.follower = d.follower)) pending
        """;

    /// <summary>Every registered follower's undelivered changes and the age of its oldest one in ms (0 when caught up).</summary>
    public static async Task<IReadOnlyDictionary<string, (long Pending, long LagMs)>> ReadAsync(
        NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, $"""
            SELECT d.follower, pending.n, COALESCE(pending.lag_ms, 0)
              FROM partial_replica.delivery d
            {PendingSql}
            """);
        var backlog = new Dictionary<string, (long Pending, long LagMs)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            backlog[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        }

        return backlog;
    }
}
