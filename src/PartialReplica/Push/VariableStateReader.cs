using Npgsql;
using PartialReplica.Capture;
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
        connection.ScalarAsync<long>(StampSql, cancellationToken);

    private const string StampSql = "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint";

    /// <summary>
    /// A full reconcile's page: the next <paramref name="limit"/> variables after <paramref name="after"/> in the
    /// follower's materialised grant table (current: registration, policy loads and requeues refresh it) with their kept versions,
    /// in one round trip. Returns the page's ids in order and their states.
    /// </summary>
    public async Task<(List<string> Ids, IReadOnlyList<VariableState> States)> ReadGrantedPageAsync(
        string followerRoleId, string after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        var stamp = await ReadStampAsync(connection, cancellationToken);
        await using var command = ConnectionExtensions.Command(connection, GrantedSecretsSql.GrantedPageWithSecrets, followerRoleId, after, limit);
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
        // one round trip; each still takes its own snapshot, in order (measured in bench P3: ~0.5 ms a push).
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
    /// A worker's read for a push, in one round trip: the next changes after <paramref name="after"/> for the
    /// follower (<see cref="OutboxReader.ReadSql"/>), then a stamp, then the states of the variables the relevant
    /// ones name (<see cref="ReadAsync"/>: granted variables with their versions; empty states for the rest that a
    /// revocation or deletion names). The states statement takes its own, later snapshot and selects the changes
    /// again: every transaction older than the first statement's horizon had ended, so its first rows are the ones
    /// read, perhaps followed by newer ones, whose states are left out. Measured in bench P3: one round trip (~1 ms
    /// on a busy machine) less for every push.
    /// </summary>
    /// <remarks>Runs for every push, on the caller's own session, prepared.</remarks>
    public static async Task<(IReadOnlyList<Change> Changes, IReadOnlyList<string> Ids, IReadOnlyList<VariableState> States)> ReadChangesAsync(
        NpgsqlConnection connection, OutboxCursor after, string follower, string followerRoleId, int limit, CancellationToken cancellationToken)
    {
        var tx = after.Tx.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                ConnectionExtensions.BatchCommand(OutboxReader.ReadSql, tx, after.ChangeId, follower, limit, followerRoleId),
                ConnectionExtensions.BatchCommand(StampSql),
                ConnectionExtensions.BatchCommand(GrantedSecretsSql.StatesOfChangesAfter, followerRoleId, tx, after.ChangeId, follower, limit),
            },
        };
        await batch.PrepareAsync(cancellationToken);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var changes = await OutboxReader.ReadChangesAsync(reader, cancellationToken);

        // The variables to push, in order of their first relevant change, and those to push even when not granted:
        // anything that can take a variable away must reach the follower even when the grant has gone since.
        var ids = new List<string>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        var sendAbsent = new HashSet<string>(StringComparer.Ordinal);
        foreach (var change in changes.Where(c => c.Relevant))
        {
            if (named.Add(change.ResourceId))
            {
                ids.Add(change.ResourceId);
            }

            if (change.Kind != "upsert")
            {
                sendAbsent.Add(change.ResourceId);
            }
        }

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var stamp = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken);
        var states = await ReadStatesAsync(
            reader, stamp, (row, id) => named.Contains(id) && (row.GetBoolean(4) || sendAbsent.Contains(id)), ids.Count, cancellationToken);
        return (changes, ids, states);
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
                versions.Add(new SecretVersion(reader.GetInt32(1), reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : reader.GetDateTime(3)));
            }
        }

        return states;
    }
}
