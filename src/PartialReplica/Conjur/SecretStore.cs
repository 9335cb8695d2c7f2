using Npgsql;
using NpgsqlTypes;
using PartialReplica.Schema;

namespace PartialReplica.Conjur;

/// <summary><c>secret set|get</c>: the only place besides follower readers that uses the data key.</summary>
public static class SecretStore
{
    // Conjur keeps the newest 20 versions of a variable.
    private const int KeptVersions = 20;

    /// <summary>A full variable id from <c>prod/db/password</c> or <c>default:variable:prod/db/password</c>.</summary>
    public static string VariableId(string account, string id)
    {
        if (id.Contains(':', StringComparison.Ordinal))
        {
            var parsed = ConjurId.Parse(id);
            return parsed.Kind == "variable" ? parsed.ToString() : throw new PartialReplicaException($"'{id}' is a {parsed.Kind}, not a variable.");
        }

        return new ConjurId(account, "variable", id.TrimStart('/')).ToString();
    }

    /// <summary>Adds a new version (Conjur's trigger numbers it); returns the version.</summary>
    public static async Task<int> SetAsync(NpgsqlDataSource leader, string variableId, ReadOnlyMemory<byte> value, Slosilo crypto, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        if (!await connection.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM resources WHERE resource_id = $1)", cancellationToken, variableId))
        {
            throw new PartialReplicaException($"Variable {variableId} does not exist; define it in policy first (partial-replica policy load).");
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var version = await AddVersionAsync(connection, variableId, crypto.Encrypt(value.Span, variableId), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return version;
    }

    /// <summary>
    /// Inserts an encrypted value as the resource's next version (Conjur's trigger numbers it) and keeps the newest
    /// 20, in the caller's transaction; returns the version.
    /// </summary>
    internal static async Task<int> AddVersionAsync(NpgsqlConnection connection, string resourceId, byte[] ciphertext, CancellationToken cancellationToken)
    {
        var version = await connection.ScalarAsync<int>(
            "INSERT INTO secrets (resource_id, value) VALUES ($1, $2) RETURNING version",
            cancellationToken, resourceId, ciphertext);
        if (version > KeptVersions)
        {
            // Conjur's application keeps the newest 20 versions, and so does this product on a leader Conjur made; on
            // a leader this product made, a trigger has already pruned them and this deletes nothing. Same transaction
            // as the insert, so the capture counts the pruned versions as the insert's (see the leader baseline).
            await connection.ExecuteAsync(
                "DELETE FROM secrets WHERE resource_id = $1 AND version <= $2",
                cancellationToken, resourceId, version - KeptVersions);
        }

        return version;
    }

    /// <summary>Reads and decrypts a version (the newest when null) from a leader or a follower.</summary>
    public static async Task<(int Version, byte[] Value)> GetAsync(NpgsqlDataSource database, string variableId, int? version, Slosilo crypto, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT version, value FROM secrets WHERE resource_id = $1 AND ($2::int IS NULL OR version = $2)
             ORDER BY version DESC LIMIT 1
            """, variableId, new NpgsqlParameter { Value = (object?)version ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new PartialReplicaException(version is null
                ? $"No value for {variableId} in this database."
                : $"No version {version} of {variableId} in this database.");
        }

        return (reader.GetInt32(0), crypto.Decrypt(reader.GetFieldValue<byte[]>(1), variableId));
    }
}
