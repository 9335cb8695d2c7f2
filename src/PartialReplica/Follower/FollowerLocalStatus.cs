using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Follower;

/// <summary>What a follower's own database says: the variables it holds and how its subscription runs.</summary>
/// <param name="Delivered">Distinct variables with at least one secret version in the follower's <c>secrets</c>.</param>
/// <param name="Subscription">streaming, syncing, down, disabled or missing.</param>
/// <param name="LastRefusal">The agent's latest refused batch since its latest applied one (reason and ids, no values), if any.</param>
public sealed record LocalStatus(long Delivered, string Subscription, string? LastRefusal = null);

/// <summary>Reads <see cref="LocalStatus"/> on a follower (the agent serves it at <c>GET /agent/status</c>).</summary>
public static class FollowerLocalStatus
{
    public static async Task<LocalStatus> ReadAsync(NpgsqlDataSource follower, CancellationToken cancellationToken)
    {
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        var delivered = await connection.ScalarAsync<long>("SELECT count(DISTINCT resource_id) FROM secrets", cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT s.subenabled,
                   EXISTS (SELECT 1 FROM pg_stat_subscription st WHERE st.subid = s.oid AND st.pid IS NOT NULL AND st.relid IS NULL),
                   EXISTS (SELECT 1 FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate NOT IN ('r', 's'))
              FROM pg_subscription s
             WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND s.subpublications @> ARRAY['partial_replica_public']
             LIMIT 1
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var state = !await reader.ReadAsync(cancellationToken) ? "missing"
            : !reader.GetBoolean(0) ? "disabled"
            : reader.GetBoolean(2) ? "syncing"
            : reader.GetBoolean(1) ? "streaming"
            : "down";
        await reader.DisposeAsync();
        var refusal = await connection.ScalarAsync<string>("""
            SELECT r.reason || ': ' || r.detail || ' (batch ' || r.batch_id || ' from ' || r.gateway || ', ' || r.refused_at || ')'
              FROM partial_replica.refusals r
             WHERE r.refused_at > coalesce((SELECT l.applied_at FROM partial_replica.apply_log l ORDER BY l.id DESC LIMIT 1), '-infinity')
             ORDER BY r.id DESC LIMIT 1
            """, cancellationToken);
        return new LocalStatus(delivered, state, refusal);
    }
}
