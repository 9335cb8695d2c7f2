using System.Net;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Authn;

/// <summary>
/// Checks a presented API key as Conjur does (S1): the role's <c>credentials.api_key</c> decrypted with the data key
/// and compared in constant time, unless <c>expiration</c> has passed or the client's address falls outside a
/// non-empty <c>restricted_to</c>.
/// </summary>
public static class ApiKeyAuthenticator
{
    /// <summary>
    /// Whether <paramref name="apiKey"/> is the current key of <paramref name="roleId"/> for a request from
    /// <paramref name="client"/>. Unknown role, no key, wrong key, expired and wrong origin all answer false after the
    /// same comparison, so neither the answer nor its timing tells them apart. A stored key that does not decrypt
    /// with <paramref name="dataKey"/> is a configuration error and throws.
    /// </summary>
    public static async Task<bool> AuthenticateAsync(
        NpgsqlDataSource leader, string roleId, string apiKey, IPAddress? client, Slosilo dataKey, CancellationToken cancellationToken)
    {
        byte[]? stored = null;
        var expired = true;
        string[] restrictedTo = [];
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        await using (var command = ConnectionExtensions.Command(connection, """
            SELECT c.api_key, c.expiration IS NOT NULL AND c.expiration <= now() AT TIME ZONE 'UTC', c.restricted_to::text[]
              FROM credentials c JOIN roles r ON r.role_id = c.role_id
             WHERE c.role_id = $1
            """, roleId))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                stored = reader.IsDBNull(0) ? null : reader.GetFieldValue<byte[]>(0);
                expired = reader.GetBoolean(1);
                restrictedTo = reader.IsDBNull(2) ? [] : reader.GetFieldValue<string[]>(2);
            }
        }

        var expected = stored is null ? RandomNumberGenerator.GetBytes(32) : Open(stored, roleId, dataKey);
        // Hashing both sides first makes the comparison independent of the presented key's length too
        // (ActiveSupport's secure_compare, which Conjur uses, does the same).
        var matches = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)), SHA256.HashData(expected));
        return stored is not null & matches & !expired & OriginAllowed(restrictedTo, client);
    }

    /// <summary>
    /// Conjur's <c>Role#valid_origin?</c>: an empty <c>restricted_to</c> allows any client; otherwise the client's
    /// address must fall in one of the CIDRs. An IPv4 client seen through a dual-stack socket counts as IPv4.
    /// </summary>
    public static bool OriginAllowed(IReadOnlyCollection<string> restrictedTo, IPAddress? client)
    {
        if (restrictedTo.Count == 0)
        {
            return true;
        }

        if (client is null)
        {
            return false;
        }

        var address = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
        return restrictedTo.Any(cidr => IPNetwork.TryParse(cidr, out var network) && network.Contains(address));
    }

    /// <summary>Rotates the role's API key when the role exists; returns the new key, or null for an unknown role.</summary>
    public static async Task<string?> RotateAsync(NpgsqlDataSource leader, string roleId, Slosilo dataKey, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await connection.ScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM roles WHERE role_id = $1)", cancellationToken, roleId))
        {
            return null;
        }

        var apiKey = await ApiKeys.RotateAsync(connection, roleId, dataKey, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return apiKey;
    }

    private static byte[] Open(byte[] stored, string roleId, Slosilo dataKey)
    {
        try
        {
            return dataKey.Decrypt(stored, roleId);
        }
        catch (PartialReplicaException e)
        {
            throw new PartialReplicaException(
                $"The API key stored for {roleId} does not decrypt with this data key (Gateway:DataKey, CONJUR_DATA_KEY): " +
                "give the gateway the data key of the leader's Conjur.", e);
        }
    }
}
