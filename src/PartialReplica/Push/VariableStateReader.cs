using System.Data;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Push;

/// <summary>
/// Reads variables' current states for one follower on the leader: the kept versions of each variable
/// the follower is granted, as stored ciphertext, and "none" for the rest. Never decrypts.
/// </summary>
public sealed class VariableStateReader(NpgsqlDataSource leader)
{
    /// <summary>
    /// The stamp of a state read next on <paramref name="connection"/>: the leader's WAL insert position,
    /// taken before the read's snapshot, so every commit the state misses has a larger one.
    /// </summary>
    public static Task<long> ReadStampAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        connection.ScalarAsync<long>("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint", cancellationToken);

    /// <summary>
    /// A full reconcile's page: the next <paramref name="limit"/> variables after <paramref name="after"/> in the
    /// follower's materialised grant table (refreshed at the start of the reconcile) with their kept versions,
    /// in one round trip. Returns the page's ids in order and their states.
    /// </summary>
    public async Task<(List<string> Ids, IReadOnlyList<VariableState> States)> ReadGrantedPageAsync(
        string followerRoleId, string after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        var stamp = await ReadStampAsync(connection, cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, GrantedSecretsSql.GrantedPageWithSecrets, followerRoleId, after, limit);
        var ids = new List<string>(limit);
        var states = new List<VariableState>(limit);
        List<SecretVersion>? versions = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (ids.Count == 0 || ids[^1] != id)
            {
                ids.Add(id);
                versions = [];
                states.Add(new VariableState(id, stamp, versions));
            }

            if (!reader.IsDBNull(1))
            {
                versions!.Add(new SecretVersion(reader.GetInt32(1), reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : reader.GetDateTime(3)));
            }
        }

        return (ids, states);
    }

    /// <summary>
    /// States of <paramref name="ids"/> for the follower. Variables not granted are returned as empty
    /// states only when listed in <paramref name="sendAbsent"/> (revocations, deletions); otherwise left out.
    /// </summary>
    public async Task<IReadOnlyList<VariableState>> ReadAsync(
        string followerRoleId, IReadOnlyCollection<string> ids, IReadOnlySet<string> sendAbsent, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);

        // The stamp is read before the snapshot: every commit the state misses has a larger WAL position,
        // so a newer state always carries a larger stamp (see the follower's apply rule).
        var stamp = await ReadStampAsync(connection, cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

        var granted = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = ConnectionExtensions.Command(connection, GrantedSecretsSql.GrantedAmong, followerRoleId, ids.ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                granted.Add(reader.GetString(0));
            }
        }

        var versions = new Dictionary<string, List<SecretVersion>>(StringComparer.Ordinal);
        if (granted.Count > 0)
        {
            await using var command = ConnectionExtensions.Command(connection, """
                SELECT resource_id, version, value, expires_at FROM secrets
                 WHERE resource_id = ANY($1) ORDER BY resource_id, version
                """, new object?[] { granted.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                if (!versions.TryGetValue(id, out var list))
                {
                    versions[id] = list = [];
                }

                list.Add(new SecretVersion(reader.GetInt32(1), reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : reader.GetDateTime(3)));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        var states = new List<VariableState>(ids.Count);
        foreach (var id in ids)
        {
            if (granted.Contains(id))
            {
                states.Add(new VariableState(id, stamp, versions.TryGetValue(id, out var list) ? list : []));
            }
            else if (sendAbsent.Contains(id))
            {
                states.Add(new VariableState(id, stamp, []));
            }
        }

        return states;
    }
}
