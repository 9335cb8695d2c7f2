using Npgsql;
using PartialReplica.Edge;
using PartialReplica.Schema;

namespace PartialReplica.Followers;

/// <summary>A registered follower, as listed by the admin API.</summary>
public sealed record FollowerSummary(string Name, string RoleId, string SlotName, string? AgentUrl, DateTimeOffset CreatedAt);

/// <summary>The replication slot of a follower on the leader (<c>pg_replication_slots</c>, <c>pg_stat_replication</c>).</summary>
public sealed record SlotStatus(string Name, bool Active, string? ConfirmedFlushLsn, long? LagBytes, string? StreamingState);

/// <summary>What the push path has delivered to a follower (<c>partial_replica.delivery</c>).</summary>
public sealed record DeliveryStatus(long LastChangeId, DateTimeOffset? DeliveredAt, string? LastError, DateTimeOffset UpdatedAt);

/// <summary>One follower's status on the leader side.</summary>
public sealed record FollowerStatus(
    FollowerSummary Follower, IReadOnlyList<string> ReplicaSets, long Granted, SlotStatus? Slot, DeliveryStatus? Delivery);

/// <summary>Reads of <c>partial_replica.followers</c> for the admin API and status.</summary>
public static class FollowerDirectory
{
    /// <summary>Followers ordered by name.</summary>
    public static async Task<IReadOnlyList<FollowerSummary>> ListAsync(
        NpgsqlDataSource leader, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT name, role_id, slot_name, agent_url, created_at FROM partial_replica.followers
             ORDER BY name COLLATE "C" LIMIT $1 OFFSET $2
            """, limit, offset);
        var followers = new List<FollowerSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            followers.Add(ReadSummary(reader));
        }

        return followers;
    }

    /// <summary>How many followers are registered.</summary>
    public static async Task<long> CountAsync(NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ScalarAsync<long>("SELECT count(*) FROM partial_replica.followers", cancellationToken);
    }

    /// <summary>The follower's status, or null when no follower has that name.</summary>
    public static async Task<FollowerStatus?> StatusAsync(NpgsqlDataSource leader, string name, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        FollowerSummary summary;
        SlotStatus? slot;
        DeliveryStatus? delivery;
        await using (var command = ConnectionExtensions.Command(connection, """
            SELECT f.name, f.role_id, f.slot_name, f.agent_url, f.created_at,
                   s.slot_name IS NOT NULL, coalesce(s.active, false), s.confirmed_flush_lsn::text,
                   CASE WHEN s.confirmed_flush_lsn IS NULL THEN NULL
                        ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint END,
                   (SELECT r.state FROM pg_stat_replication r WHERE r.application_name = f.slot_name LIMIT 1),
                   d.follower IS NOT NULL, d.last_change_id, d.delivered_at, d.last_error, d.updated_at
              FROM partial_replica.followers f
              LEFT JOIN pg_replication_slots s ON s.slot_name = f.slot_name AND s.database = current_database()
              LEFT JOIN partial_replica.delivery d ON d.follower = f.name
             WHERE f.name = $1
            """, name))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            summary = ReadSummary(reader);
            slot = reader.GetBoolean(5)
                ? new SlotStatus(summary.SlotName, reader.GetBoolean(6), NullableString(reader, 7),
                    reader.IsDBNull(8) ? null : reader.GetInt64(8), NullableString(reader, 9))
                : null;
            delivery = reader.GetBoolean(10)
                ? new DeliveryStatus(reader.GetInt64(11), reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
                    NullableString(reader, 13), reader.GetFieldValue<DateTimeOffset>(14))
                : null;
        }

        var sets = new List<string>();
        await using (var command = ConnectionExtensions.Command(connection,
            "SELECT set_id FROM partial_replica.follower_replica_sets($1) ORDER BY set_id COLLATE \"C\"", summary.RoleId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                sets.Add(reader.GetString(0));
            }
        }

        var granted = await GrantedSecretsQuery.CountGrantedVariablesAsync(connection, summary.RoleId, cancellationToken);
        return new FollowerStatus(summary, sets, granted, slot, delivery);
    }

    private static FollowerSummary ReadSummary(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), NullableString(reader, 3), reader.GetFieldValue<DateTimeOffset>(4));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
