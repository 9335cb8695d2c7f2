using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>
/// A follower's granted variables, read from the materialised <c>partial_replica.granted</c> (kept equal
/// to <c>granted_variables</c> by every policy load). Ordered by resource id in byte order; the count is
/// one row of <c>partial_replica.granted_counts</c>.
/// </summary>
public static class GrantedVariables
{
    /// <summary>How many variables the follower host may hold.</summary>
    public static async Task<long> CountAsync(NpgsqlConnection leader, string followerRoleId, CancellationToken cancellationToken) =>
        await leader.ScalarAsync<long>(
            "SELECT coalesce((SELECT variables FROM partial_replica.granted_counts WHERE follower_role_id = $1), 0)",
            cancellationToken, followerRoleId);

    /// <summary>Keyset page: up to <paramref name="limit"/> ids after <paramref name="after"/> (null: from the start).</summary>
    public static Task<IReadOnlyList<string>> PageAfterAsync(
        NpgsqlConnection leader, string followerRoleId, string? after, int limit, CancellationToken cancellationToken) =>
        after is null
            ? PageAsync(leader, followerRoleId, 0, limit, cancellationToken)
            : ReadAsync(leader, """
                SELECT resource_id FROM partial_replica.granted
                 WHERE follower_role_id = $1 AND resource_id > $2
                 ORDER BY resource_id LIMIT $3
                """, cancellationToken, followerRoleId, after, CheckLimit(limit));

    /// <summary>Offset page, as Conjur's <c>limit</c>/<c>offset</c>.</summary>
    public static Task<IReadOnlyList<string>> PageAsync(
        NpgsqlConnection leader, string followerRoleId, int offset, int limit, CancellationToken cancellationToken) =>
        ReadAsync(leader, """
            SELECT resource_id FROM partial_replica.granted WHERE follower_role_id = $1
             ORDER BY resource_id LIMIT $2 OFFSET $3
            """, cancellationToken, followerRoleId, CheckLimit(limit), offset >= 0 ? offset : throw new PartialReplicaException("offset must not be negative"));

    private static int CheckLimit(int limit) =>
        limit is > 0 and <= 10_000 ? limit : throw new PartialReplicaException("limit must be between 1 and 10000");

    private static async Task<IReadOnlyList<string>> ReadAsync(
        NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        var ids = new List<string>();
        await using var command = ConnectionExtensions.Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
