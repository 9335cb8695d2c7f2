using System.Text;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Authn;

/// <summary>
/// Issues and rotates API keys as Conjur stores them: the key itself in <c>credentials.api_key</c>, in Slosilo's
/// format with the data key and the role id as associated data (Conjur's <c>attr_encrypted :api_key, aad: :role_id</c>).
/// <c>encrypted_hash</c> is Conjur's bcrypt password hash and is never written here.
/// </summary>
public static class ApiKeys
{
    /// <summary>A new key in the shape of Conjur's <c>Credentials.random_api_key</c>.</summary>
    public static string Generate() => ConjurApiKey.Generate();

    /// <summary>The stored form of <paramref name="apiKey"/> for <paramref name="roleId"/>.</summary>
    public static byte[] Protect(Slosilo dataKey, string roleId, string apiKey) =>
        dataKey.Encrypt(Encoding.UTF8.GetBytes(apiKey), roleId);

    /// <summary>
    /// Gives the role a key when it has none; returns the new key, or null when it already had one (keys are printed
    /// once; rotation replaces them explicitly). The data key is needed only when a key is issued, so a re-run over
    /// a database whose keys Conjur or an earlier run issued works without it.
    /// </summary>
    public static async Task<string?> IssueIfMissingAsync(
        NpgsqlConnection connection, string roleId, Slosilo? dataKey, CancellationToken cancellationToken)
    {
        if (await connection.ScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM credentials WHERE role_id = $1 AND api_key IS NOT NULL)", cancellationToken, roleId))
        {
            return null;
        }

        var key = Require(dataKey, roleId);
        var apiKey = Generate();
        // The WHERE keeps a key another session issued meanwhile: then nothing is returned and nothing printed.
        var issued = await connection.ScalarAsync<string>("""
            INSERT INTO credentials (role_id, api_key) VALUES ($1, $2)
            ON CONFLICT (role_id) DO UPDATE SET api_key = EXCLUDED.api_key WHERE credentials.api_key IS NULL
            RETURNING role_id
            """, cancellationToken, roleId, Protect(key, roleId, apiKey));
        return issued is null ? null : apiKey;
    }

    /// <summary>Replaces the role's key (Conjur's <c>rotate_api_key</c>); returns the new one.</summary>
    public static async Task<string> RotateAsync(NpgsqlConnection connection, string roleId, Slosilo dataKey, CancellationToken cancellationToken)
    {
        var apiKey = Generate();
        await connection.ExecuteAsync("""
            INSERT INTO credentials (role_id, api_key) VALUES ($1, $2)
            ON CONFLICT (role_id) DO UPDATE SET api_key = EXCLUDED.api_key
            """, cancellationToken, roleId, Protect(dataKey, roleId, apiKey));
        return apiKey;
    }

    /// <summary>Gives each role a new key (the users and hosts a policy load created); returns the keys in order.</summary>
    public static async Task<string[]> IssueAsync(
        NpgsqlConnection connection, IReadOnlyList<string> roleIds, Slosilo? dataKey, CancellationToken cancellationToken)
    {
        if (roleIds.Count == 0)
        {
            return [];
        }

        var key = Require(dataKey, roleIds[0]);
        var apiKeys = roleIds.Select(_ => Generate()).ToArray();
        await connection.ExecuteAsync("""
            INSERT INTO credentials (role_id, api_key) SELECT * FROM unnest($1::text[], $2::bytea[])
            ON CONFLICT (role_id) DO UPDATE SET api_key = EXCLUDED.api_key
            """, cancellationToken, roleIds.ToArray(), roleIds.Select((id, i) => Protect(key, id, apiKeys[i])).ToArray());
        return apiKeys;
    }

    private static Slosilo Require(Slosilo? dataKey, string roleId) =>
        dataKey ?? throw new PartialReplicaException(
            $"Issuing the API key of {roleId} needs the data key: set CONJUR_DATA_KEY (or --data-key) to the leader's Conjur data key. " +
            "API keys are stored encrypted with it, as Conjur stores them.");
}
