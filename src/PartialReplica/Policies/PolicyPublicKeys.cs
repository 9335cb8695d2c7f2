using System.Text;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Policies;

/// <summary>
/// Users' public keys, stored as Conjur's loader stores them (<c>Loader::Handlers::PublicKey</c>): each key's value
/// is a secret of its <c>public_key</c> resource, encrypted in Slosilo's format with the data key and the resource id
/// as associated data, added as a new version only when it differs from the newest one. Secrets written here are
/// captured like any other; followers receive them only if a replica set grants the resource.
/// </summary>
internal static class PolicyPublicKeys
{
    /// <summary>
    /// Refuses, before anything is written, a load that would store public keys without the data key. A dry run
    /// stores none and needs none.
    /// </summary>
    public static void RequireDataKey(PolicyDocument document, PolicyLoadRequest request)
    {
        if (document.PublicKeys.Count > 0 && !request.DryRun && request.DataKey is null)
        {
            var first = document.PublicKeys[0];
            throw PolicyErrors.At(first.Mark,
                $"storing the public key {first.Resource} needs the data key: set CONJUR_DATA_KEY (or --data-key) to the leader's Conjur data key. " +
                "Public keys are stored as secrets encrypted with it, as Conjur stores them; nothing was changed.");
        }
    }

    /// <summary>Stores each key whose value differs from its resource's newest secret, in file order.</summary>
    public static async Task StoreAsync(
        NpgsqlConnection connection, IReadOnlyList<PolicyPublicKey> keys, Slosilo dataKey, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            var resourceId = key.Resource.ToString();
            var value = Encoding.UTF8.GetBytes(key.Value);
            var newest = await connection.ScalarAsync<byte[]?>(
                "SELECT value FROM secrets WHERE resource_id = $1 ORDER BY version DESC LIMIT 1", cancellationToken, resourceId);
            if (newest is not null && dataKey.Decrypt(newest, resourceId).AsSpan().SequenceEqual(value))
            {
                continue;
            }

            await SecretStore.AddVersionAsync(connection, resourceId, dataKey.Encrypt(value, resourceId), cancellationToken);
        }
    }
}
