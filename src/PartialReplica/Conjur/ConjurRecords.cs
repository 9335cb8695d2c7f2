using Npgsql;

namespace PartialReplica.Conjur;

/// <summary>The few record writes setup and follower init need outside a policy load.</summary>
internal static class ConjurRecords
{
    /// <summary>The account's admin user, owner of the root policy (as in Conjur).</summary>
    public static ConjurId Admin(string account) => new(account, "user", "admin");

    /// <summary>The account's root policy resource.</summary>
    public static ConjurId RootPolicy(string account) => new(account, "policy", "root");

    /// <summary>Creates the role and its resource when missing; returns whether it created the role.</summary>
    public static async Task<bool> EnsureRoleWithResourceAsync(
        NpgsqlConnection connection, ConjurId id, ConjurId owner, ConjurId? policy, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            WITH role AS (
                INSERT INTO roles (role_id, policy_id) VALUES ($1, $3)
                ON CONFLICT (role_id) DO NOTHING RETURNING role_id)
            INSERT INTO resources (resource_id, owner_id, policy_id)
            SELECT $1, $2, $3
            ON CONFLICT (resource_id) DO NOTHING
            RETURNING (SELECT count(*) FROM role)
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = owner.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)policy?.ToString() ?? DBNull.Value, DataTypeName = "text" });
        var created = await command.ExecuteScalarAsync(cancellationToken);
        return created is long count && count > 0;
    }
}
