using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Authn;

/// <summary>Checks a presented API key against the role's stored hash (S1).</summary>
public static class ApiKeyAuthenticator
{
    /// <summary>
    /// Whether <paramref name="apiKey"/> is the current key of <paramref name="roleId"/>. An unknown role and a
    /// wrong key both answer false after the same hash comparison, so timing does not tell them apart.
    /// </summary>
    public static async Task<bool> AuthenticateAsync(
        NpgsqlDataSource leader, string roleId, string apiKey, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        var stored = await connection.ScalarAsync<byte[]>("""
            SELECT c.encrypted_hash FROM credentials c JOIN roles r ON r.role_id = c.role_id
             WHERE c.role_id = $1 AND (c.expiration IS NULL OR c.expiration > now() AT TIME ZONE 'UTC')
            """, cancellationToken, roleId);
        var matches = ApiKeys.Matches(apiKey, stored ?? new byte[32]);
        return stored is not null && matches;
    }

    /// <summary>Rotates the role's API key when the role exists; returns the new key, or null for an unknown role.</summary>
    public static async Task<string?> RotateAsync(NpgsqlDataSource leader, string roleId, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await connection.ScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM roles WHERE role_id = $1)", cancellationToken, roleId))
        {
            return null;
        }

        var apiKey = await ApiKeys.RotateAsync(connection, roleId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return apiKey;
    }
}
