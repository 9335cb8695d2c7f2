using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace PartialReplica.Authn;

/// <summary>
/// API keys as Conjur hands them out: random, shown once, stored only as a SHA-256 hash in
/// <c>credentials.encrypted_hash</c> (a fast hash suffices: the keys carry 256 bits of entropy).
/// </summary>
public static class ApiKeys
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>A new key: 256 random bits in lowercase base32 (52 characters).</summary>
    public static string Generate()
    {
        var bytes = RandomNumberGenerator.GetBytes(32);
        var builder = new StringBuilder(52);
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                builder.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            builder.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return builder.ToString();
    }

    /// <summary>The stored form of a key.</summary>
    public static byte[] Hash(string apiKey) => SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    /// <summary>Compares a presented key with a stored hash in constant time.</summary>
    public static bool Matches(string apiKey, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(apiKey), storedHash);

    /// <summary>
    /// Gives the role a key when it has none; returns the new key, or null when it already had one
    /// (keys are printed once; rotation replaces them explicitly).
    /// </summary>
    public static async Task<string?> IssueIfMissingAsync(NpgsqlConnection connection, string roleId, CancellationToken cancellationToken)
    {
        var apiKey = Generate();
        await using var command = new NpgsqlCommand("""
            INSERT INTO credentials (role_id, encrypted_hash) VALUES ($1, $2)
            ON CONFLICT (role_id) DO UPDATE SET encrypted_hash = EXCLUDED.encrypted_hash
                WHERE credentials.encrypted_hash IS NULL
            RETURNING role_id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = roleId });
        command.Parameters.Add(new NpgsqlParameter { Value = Hash(apiKey) });
        return await command.ExecuteScalarAsync(cancellationToken) is null ? null : apiKey;
    }

    /// <summary>Replaces the role's key; returns the new one.</summary>
    public static async Task<string> RotateAsync(NpgsqlConnection connection, string roleId, CancellationToken cancellationToken)
    {
        var apiKey = Generate();
        await using var command = new NpgsqlCommand("""
            INSERT INTO credentials (role_id, encrypted_hash) VALUES ($1, $2)
            ON CONFLICT (role_id) DO UPDATE SET encrypted_hash = EXCLUDED.encrypted_hash
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = roleId });
        command.Parameters.Add(new NpgsqlParameter { Value = Hash(apiKey) });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return apiKey;
    }
}
