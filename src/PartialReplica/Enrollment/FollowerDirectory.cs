using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Schema;

namespace PartialReplica.Enrollment;

/// <summary>A registered follower, as listed by the admin API.</summary>
public sealed record FollowerSummary(string Name, string RoleId, string SlotName, string? AgentUrl, DateTimeOffset CreatedAt);

/// <summary>The replication slot of a follower on the relay (<c>pg_replication_slots</c>, <c>pg_stat_replication</c>); lag is in bytes of the relay's WAL.</summary>
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

    /// <summary>The role id of the follower named <paramref name="name"/>, or null when none is registered.</summary>
    public static async Task<string?> RoleIdAsync(NpgsqlDataSource leader, string name, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ScalarAsync<string>("SELECT role_id FROM partial_replica.followers WHERE name = $1", cancellationToken, name);
    }

    /// <summary>How many followers are registered.</summary>
    public static async Task<long> CountAsync(NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return await connection.ScalarAsync<long>("SELECT count(*) FROM partial_replica.followers", cancellationToken);
    }

    /// <summary>
    /// The follower's status, or null when no follower has that name. Its slot is read on the relay
    /// (<paramref name="relay"/>, an admin data source; null: no slot shown).
    /// </summary>
    public static async Task<FollowerStatus?> StatusAsync(
        NpgsqlDataSource leader, NpgsqlDataSource? relay, string name, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        FollowerSummary summary;
        SlotStatus? slot;
        DeliveryStatus? delivery;
        await using (var command = ConnectionExtensions.Command(connection, """
            SELECT f.name, f.role_id, f.slot_name, f.agent_url, f.created_at,
                   d.follower IS NOT NULL, d.last_change_id, d.delivered_at, d.last_error, d.updated_at
              FROM partial_replica.followers f
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
            delivery = reader.GetBoolean(5)
                ? new DeliveryStatus(reader.GetInt64(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                    NullableString(reader, 8), reader.GetFieldValue<DateTimeOffset>(9))
                : null;
        }

        slot = relay is null ? null : await ReadSlotAsync(relay, summary.SlotName, cancellationToken);

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

        var granted = await GrantedSecretsReader.CountVariablesAsync(connection, summary.RoleId, cancellationToken);
        return new FollowerStatus(summary, sets, granted, slot, delivery);
    }

    private static async Task<SlotStatus?> ReadSlotAsync(NpgsqlDataSource relay, string slot, CancellationToken cancellationToken)
    {
        await using var connection = await relay.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT coalesce(s.active, false), s.confirmed_flush_lsn::text,
                   CASE WHEN s.confirmed_flush_lsn IS NULL THEN NULL
                        ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint END,
                   (SELECT r.state FROM pg_stat_replication r WHERE r.application_name = s.slot_name LIMIT 1)
              FROM pg_replication_slots s
             WHERE s.slot_name = $1 AND s.database = current_database()
            """, slot);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new SlotStatus(slot, reader.GetBoolean(0), NullableString(reader, 1), reader.IsDBNull(2) ? null : reader.GetInt64(2), NullableString(reader, 3))
            : null;
    }

    private static FollowerSummary ReadSummary(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), NullableString(reader, 3), reader.GetFieldValue<DateTimeOffset>(4));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
