using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Protocol;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Dispatch;

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
        connection.ScalarAsync<long>(StampSql, cancellationToken);

    private const string StampSql = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint";

    /// <summary>
    /// Whether a full reconcile for <paramref name="followerRoleId"/> reads its pages by range
    /// (<see cref="GrantedSecretsSql.PagesByRange"/>); asked once per reconcile.
    /// </summary>
    public static Task<bool> PagesByRangeAsync(NpgsqlConnection connection, string followerRoleId, CancellationToken cancellationToken) =>
        connection.ScalarAsync<bool>(GrantedSecretsSql.PagesByRange, cancellationToken, followerRoleId);

    /// <summary>
    /// A full reconcile's page: the next <paramref name="limit"/> variables after <paramref name="after"/> in the
    /// follower's materialised grant table (current: registration, policy loads and requeues refresh it) with their kept versions,
    /// in one round trip; their secrets read by one range scan when <paramref name="byRange"/> (see
    /// <see cref="PagesByRangeAsync"/>), else by one probe per variable. Returns the page's ids in order and their states.
    /// </summary>
    public async Task<(List<string> Ids, IReadOnlyList<VariableState> States)> ReadGrantedPageAsync(
        string followerRoleId, string after, int limit, bool byRange, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        var stamp = await ReadStampAsync(connection, cancellationToken);
        await using var command = ConnectionExtensions.Command(connection,
            byRange ? GrantedSecretsSql.GrantedPageWithSecretsByRange : GrantedSecretsSql.GrantedPageWithSecrets, followerRoleId, after, limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var states = await ReadStatesAsync(reader, stamp, (_, _) => true, limit, cancellationToken);
        return (states.Select(s => s.Id).ToList(), states);
    }

    /// <summary>
    /// States of <paramref name="ids"/> for the follower, by its materialised grant table. Variables not
    /// granted are returned as empty states only when listed in <paramref name="sendAbsent"/> (revocations,
    /// deletions); otherwise left out. One statement, so grants and values come from one snapshot.
    /// </summary>
    /// <remarks>Runs for every push, on the caller's own session, prepared.</remarks>
    public static async Task<IReadOnlyList<VariableState>> ReadAsync(
        NpgsqlConnection connection, string followerRoleId, IReadOnlyCollection<string> ids, IReadOnlySet<string> sendAbsent,
        CancellationToken cancellationToken)
    {
        // The stamp is read before the snapshot: every commit the state misses has a larger WAL position,
        // so a newer state always carries a larger stamp (see the follower's apply rule). Both statements go in
        // one round trip (a round trip is a large share of one change's push); each still takes its own snapshot, in order.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                ConnectionExtensions.BatchCommand(StampSql),
                ConnectionExtensions.BatchCommand(GrantedSecretsSql.StatesAmong, followerRoleId, ids.ToArray()),
            },
        };
        await batch.PrepareAsync(cancellationToken);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var stamp = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken);
        return await ReadStatesAsync(reader, stamp, (row, id) => row.GetBoolean(4) || sendAbsent.Contains(id), ids.Count, cancellationToken);
    }

    /// <summary>
    /// Groups the reader's rows (id, version, value, expires_at, ...) ordered by id into states stamped <paramref name="stamp"/>
    /// (an id without a value has one row of nulls). An id is kept when <paramref name="keep"/> says so on its first row.
    /// </summary>
    private static async Task<List<VariableState>> ReadStatesAsync(
        NpgsqlDataReader reader, long stamp, Func<NpgsqlDataReader, string, bool> keep, int capacity, CancellationToken cancellationToken)
    {
        var states = new List<VariableState>(capacity);
        string? current = null;
        List<SecretVersion>? versions = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (id != current)
            {
                current = id;
                versions = keep(reader, id) ? [] : null;
                if (versions is not null)
                {
                    states.Add(new VariableState(id, stamp, versions));
                }
            }

            if (versions is not null && !reader.IsDBNull(1))
            {
                versions.Add(new SecretVersion(reader.GetInt32(1), reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc)));
            }
        }

        return states;
    }
}
