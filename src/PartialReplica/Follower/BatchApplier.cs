using Npgsql;
using NpgsqlTypes;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Protocol;
using PartialReplica.Schema;

namespace PartialReplica.Follower;

/// <summary>
/// Applies a push batch to a follower's database in one transaction, idempotently: each variable's
/// state replaces what the follower holds when, and only when, its stamp is newer.
/// </summary>
public sealed class BatchApplier(NpgsqlDataSource follower)
{
    /// <summary>
    /// "resource_id is one of the text[] $1", for applied and secrets, written so the primary key serves it
    /// as one range scan between the ids' lowest and highest: <c>= ANY($1)</c> alone is planned as a scan of the
    /// whole table, which costs more with every page a reconcile writes.
    /// </summary>
    private const string AmongIds = """
        resource_id >= (SELECT min(i) FROM unnest($1::text[]) AS i)
        AND resource_id <= (SELECT max(i) FROM unnest($1::text[]) AS i)
        AND resource_id IN (SELECT unnest($1::text[]))
        """;

    // One apply at a time per follower database: two gateways' overlapping batches serialise here. Reconcile
    // pages whose ids lie in their own sweep range take it shared: their ranges are disjoint (pages cut the ids
    // in byte order, which these followers compare in), so they touch disjoint rows and may apply side by side.
    private const long ApplyLockKey = 0x5052_4150_504c;

    /// <summary>
    /// The apply transaction commits without waiting for its WAL to reach disk: its rows are visible to the follower's
    /// readers one flush earlier (bench P3). It is made durable before the batch is answered, by
    /// <see cref="MakeDurableAsync"/>: the gateway's cursor moves only on an answer, so a batch lost in a crash between
    /// the two commits was never acknowledged, and is pushed again. Native logical replication's apply worker commits
    /// the same way, reporting as flushed only what the follower has flushed.
    /// </summary>
    private const string CommitWithoutFlush = "SET LOCAL synchronous_commit = off";

    /// <summary>
    /// Whether both resource_id columns order by bytes (collation C or POSIX, the column's own or the database's),
    /// so the agent can tell without asking the database whether an id lies in a sweep range. Looked up once.
    /// </summary>
    private static readonly string ComparesBytewiseSql =
        ByteOrderSql.ResourceIdsOrderByBytes("'public.secrets'::regclass, 'partial_replica.applied'::regclass");

    private bool? _comparesBytewise;

    /// <summary>Applies the batch; returns what changed, once it is durable.</summary>
    public async Task<ApplyReport> ApplyAsync(PushBatch batch, CancellationToken cancellationToken)
    {
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        AppliedBatch applied;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            applied = await ApplyInAsync(connection, batch, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await MakeDurableAsync(connection, applied, cancellationToken);
        return applied.Report;
    }

    /// <summary>
    /// Once the apply transaction (committed without waiting for its flush) has committed, makes it durable: a
    /// transaction that writes, committed with the session's synchronous commit, flushes the WAL up to its own commit
    /// record, and with it the apply's, which precedes it. What it writes is the batch's log row's
    /// <c>applied_at</c>, now the time the apply was durable. Call before the batch is answered.
    /// </summary>
    internal static Task MakeDurableAsync(NpgsqlConnection connection, AppliedBatch applied, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(
            "UPDATE partial_replica.apply_log SET applied_at = clock_timestamp() WHERE id = $1", cancellationToken, applied.LogId);

    /// <summary>
    /// Runs both apply paths (a batch decoded from the binary form; a reconcile page copying a new variable, then a
    /// change batch with a newer state of it) in a transaction it rolls back, so the agent's code is compiled and
    /// the follower session has planned these statements before the first real push, which otherwise pays for both
    /// while it holds the apply lock. Changes nothing.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var id = $"partial-replica:warm-up:{Guid.NewGuid():N}";
        byte[] value = [0];
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var stamp in (long[])[1, 2])
        {
            // The first is a reconcile page whose sweep range holds nothing but this id.
            var batch = new PushBatch("warm-up", "warm-up", "warm-up", [new VariableState(id, stamp, [new SecretVersion(1, value, null)])])
            {
                SweepBefore = stamp == 1 ? 1 : 0,
                SweepAfter = stamp == 1 ? id[..^1] : null,
                SweepThrough = stamp == 1 ? id : null,
            };
            using var encoded = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
            PushBatchCodec.Encode(batch, encoded);
            await ApplyInAsync(connection, PushBatchCodec.Decode(encoded.WrittenSpan), cancellationToken);
        }

        await transaction.RollbackAsync(cancellationToken);
    }

    /// <summary>
    /// Applies the batch on <paramref name="connection"/>, inside the caller's transaction, which then commits without
    /// waiting for its flush: the caller makes it durable by <see cref="MakeDurableAsync"/> after the commit.
    /// </summary>
    internal async Task<AppliedBatch> ApplyInAsync(NpgsqlConnection connection, PushBatch batch, CancellationToken cancellationToken)
    {
        var startedAt = DateTime.UtcNow;
        var latest = Latest(batch.Variables);
        var sweep = SweepRange.Of(batch);
        if (sweep is null)
        {
            return await ApplyChangesAsync(connection, batch, latest.Values, startedAt, cancellationToken);
        }

        // A reconcile page whose ids all lie in its sweep range reads what it holds there by one range scan, and
        // its sweep clears rows held without an applied state: no id list goes to the database, which a page's
        // worth of ids makes costly to send and plan.
        var inRange = sweep is not null && latest.Count > 0 && await ComparesBytewiseAsync(connection, cancellationToken)
            && latest.Keys.All(sweep.Contains);
        var (heldWhere, heldParameters) = inRange ? sweep!.Where("resource_id", firstParameter: 1) : (AmongIds, [latest.Keys.ToArray()]);
        var held = await LockAndReadHeldAsync(connection, shared: inRange, heldWhere, heldParameters, latest, cancellationToken);
        var accepted = latest.Values.Where(v => !held.TryGetValue(v.Id, out var stamp) || v.Stamp > stamp).ToList();
        var upserts = 0;
        var deletes = 0;

        // Variables this follower never held (a first reconcile: all of them) are copied in binary, as
        // native logical replication's initial sync does; the rest are merged.
        var fresh = accepted.Where(v => !held.ContainsKey(v.Id)).ToList();
        var known = accepted.Where(v => held.ContainsKey(v.Id)).ToList();
        if (sweep is not null)
        {
            deletes += await SweepAsync(connection, batch, sweep, held.Keys, latest, cancellationToken);
        }

        if (fresh.Count > 0)
        {
            (upserts, var removed) = await CopyFreshAsync(connection, fresh, clearHeldRows: !inRange, cancellationToken);
            deletes += removed;
        }

        if (known.Count > 0)
        {
            var (merged, removed) = await MergeKnownAsync(connection, known, cancellationToken);
            upserts += merged;
            deletes += removed;
        }

        var report = new ApplyReport(latest.Count, latest.Count - accepted.Count, upserts, deletes);
        var logId = await connection.ScalarAsync<long>("""
            INSERT INTO partial_replica.apply_log (batch_id, gateway, started_at, variables, skipped, upserts, deletes)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING id
            """, cancellationToken, batch.BatchId, batch.Gateway, startedAt, report.Variables, report.Skipped, report.Upserts, report.Deletes);
        return new AppliedBatch(report, logId);
    }

    /// <summary>
    /// Applies the states of a batch of changes (no sweep) in one round trip: the apply lock,
    /// then one statement that takes the states newer than what the follower applied, replaces those variables'
    /// versions, records their stamps, and logs the batch: one change's apply costs two round trips (this, and the
    /// commit), which bounds commit-to-visible.
    /// </summary>
    private static async Task<AppliedBatch> ApplyChangesAsync(
        NpgsqlConnection connection, PushBatch batch, IReadOnlyCollection<VariableState> latest, DateTime startedAt, CancellationToken cancellationToken)
    {
        var apply = ConnectionExtensions.BatchCommand(MergeStates + """
            INSERT INTO partial_replica.apply_log (batch_id, gateway, started_at, variables, skipped, upserts, deletes)
            SELECT $8, $9, $10, $11, $11 - (SELECT count(*) FROM accepted), (SELECT count(*) FROM written), (SELECT count(*) FROM deleted)
            RETURNING skipped, upserts, deletes, id
            """, [.. MergeParameters(latest), batch.BatchId, batch.Gateway, startedAt, latest.Count]);
        await using var statements = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                ConnectionExtensions.BatchCommand(CommitWithoutFlush),
                ConnectionExtensions.BatchCommand("SELECT pg_advisory_xact_lock($1)", ApplyLockKey),
                apply,
            },
        };
        await using var reader = await statements.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new AppliedBatch(new ApplyReport(latest.Count, reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2)), reader.GetInt64(3));
    }

    /// <summary>
    /// Takes the apply lock (<paramref name="shared"/> for an in-range reconcile page), then reads the applied stamps
    /// of those of the batch's variables the follower has applied rows for, among the rows <paramref name="where"/>
    /// selects (the batch's ids, or its sweep range): one round trip, the read after the lock.
    /// </summary>
    private static async Task<Dictionary<string, long>> LockAndReadHeldAsync(
        NpgsqlConnection connection, bool shared, string where, object?[] parameters, Dictionary<string, VariableState> batch,
        CancellationToken cancellationToken)
    {
        var held = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var statements = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                ConnectionExtensions.BatchCommand(CommitWithoutFlush),
                ConnectionExtensions.BatchCommand(shared ? "SELECT pg_advisory_xact_lock_shared($1)" : "SELECT pg_advisory_xact_lock($1)", ApplyLockKey),
                ConnectionExtensions.BatchCommand($"SELECT resource_id, stamp FROM partial_replica.applied WHERE {where}", parameters),
            },
        };
        await using var reader = await statements.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (batch.ContainsKey(id))
            {
                held[id] = reader.GetInt64(1);
            }
        }

        return held;
    }

    /// <summary>
    /// Writes the states of variables new to this follower (no applied row) by binary COPY. Rows a follower
    /// holds without an applied row (restored by hand, say) are removed first (here when
    /// <paramref name="clearHeldRows"/>, else by the batch's sweep), so the copy can neither collide nor leave them.
    /// </summary>
    private static async Task<(int Upserts, int Deletes)> CopyFreshAsync(
        NpgsqlConnection connection, List<VariableState> fresh, bool clearHeldRows, CancellationToken cancellationToken)
    {
        var deletes = clearHeldRows
            ? await connection.ExecuteAsync($"DELETE FROM secrets WHERE {AmongIds}", cancellationToken, new object?[] { fresh.Select(v => v.Id).ToArray() })
            : 0;
        using var secrets = new BinaryCopyRows(4, fresh.Sum(v => v.Versions.Sum(s => 40 + (v.Id.Length * 3) + s.Value.Length)));
        using var applied = new BinaryCopyRows(3, fresh.Sum(v => 40 + (v.Id.Length * 3)));
        var upserts = 0;
        foreach (var variable in fresh)
        {
            foreach (var version in variable.Versions)
            {
                secrets.StartRow();
                secrets.Text(variable.Id);
                secrets.Integer(version.Version);
                secrets.Bytea(version.Value);
                // Binary COPY carries the instant's microseconds as they are: into Conjur's timestamp column they land
                // as the UTC wall-clock time, which is how Conjur reads it.
                secrets.TimestampTz(version.ExpiresAt);
                upserts++;
            }

            applied.StartRow();
            applied.Text(variable.Id);
            applied.Bigint(variable.Stamp);
            applied.Boolean(variable.Versions.Count > 0);
        }

        if (upserts > 0)
        {
            await secrets.CopyAsync(connection, "COPY secrets (resource_id, version, value, expires_at) FROM STDIN (FORMAT BINARY)", cancellationToken);
        }

        await applied.CopyAsync(connection, "COPY partial_replica.applied (resource_id, stamp, present) FROM STDIN (FORMAT BINARY)", cancellationToken);
        return (upserts, deletes);
    }

    /// <summary>Replaces held variables' versions with their newer states, and records the new stamps.</summary>
    private static async Task<(int Upserts, int Deletes)> MergeKnownAsync(NpgsqlConnection connection, List<VariableState> known, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(
            connection, MergeStates + "SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM deleted)", MergeParameters(known));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return ((int)reader.GetInt64(0), (int)reader.GetInt64(1));
    }

    /// <summary>
    /// The body of one statement that merges variables' states (one statement, so the merge is one round trip
    /// whatever the batch holds). A variable whose applied stamp is as new or newer is
    /// skipped. The versions an accepted state no longer holds go (pruned, deleted, or the whole variable revoked;
    /// rows held without an applied state too), the rest are written, and the new stamps recorded (a data-modifying
    /// WITH runs whether or not it is read). The deleted and the written versions are disjoint rows, and every part
    /// reads the applied stamps as they were before the statement. The caller ends it with a statement that may
    /// read accepted, written and deleted; parameters $1–$7 are <see cref="MergeParameters"/>.
    /// </summary>
    private const string MergeStates = """
        WITH accepted AS MATERIALIZED (
            SELECT k.resource_id, k.stamp, k.present
              FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS k(resource_id, stamp, present)
             WHERE NOT EXISTS (SELECT 1 FROM partial_replica.applied a
                                WHERE a.resource_id = k.resource_id AND a.stamp >= k.stamp)),
        versions AS MATERIALIZED (
            -- Conjur's expires_at is a timestamp without time zone, read as UTC.
            SELECT v.resource_id, v.version, v.value, v.expires_at AT TIME ZONE 'UTC' AS expires_at
              FROM unnest($4::text[], $5::int[], $6::bytea[], $7::timestamptz[]) AS v(resource_id, version, value, expires_at)
             WHERE v.resource_id IN (SELECT resource_id FROM accepted)),
        deleted AS (
            DELETE FROM secrets s USING accepted k
             WHERE s.resource_id = k.resource_id
               AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.resource_id = s.resource_id AND v.version = s.version)
            RETURNING 1),
        written AS (
            INSERT INTO secrets (resource_id, version, value, expires_at)
            SELECT v.resource_id, v.version, v.value, v.expires_at FROM versions v
            ON CONFLICT (resource_id, version) DO UPDATE
               SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
             WHERE secrets.value IS DISTINCT FROM EXCLUDED.value
                OR secrets.expires_at IS DISTINCT FROM EXCLUDED.expires_at
            RETURNING 1),
        stamped AS (
            INSERT INTO partial_replica.applied (resource_id, stamp, present, applied_at)
            SELECT k.resource_id, k.stamp, k.present, clock_timestamp() FROM accepted k
            ON CONFLICT (resource_id) DO UPDATE
               SET stamp = EXCLUDED.stamp, present = EXCLUDED.present, applied_at = EXCLUDED.applied_at)

        """;

    /// <summary>Parameters $1–$7 of <see cref="MergeStates"/>: the states' ids, stamps and presence, then their versions.</summary>
    private static object?[] MergeParameters(IReadOnlyCollection<VariableState> states)
    {
        var versions = states.SelectMany(v => v.Versions.Select(s => (v.Id, s))).ToList();
        return
        [
            states.Select(v => v.Id).ToArray(),
            states.Select(v => v.Stamp).ToArray(),
            states.Select(v => v.Versions.Count > 0).ToArray(),
            versions.Select(x => x.Id).ToArray(),
            versions.Select(x => x.s.Version).ToArray(),
            versions.Select(x => x.s.Value).ToArray(),
            new NpgsqlParameter { Value = versions.Select(x => x.s.ExpiresAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
        ];
    }

    /// <summary>
    /// The batch's sweep: removes every secret in its range whose applied state is older than the reconcile's
    /// first stamp (or missing), except those of variables the follower holds and this batch carries (they are
    /// merged). Removed variables the batch does not carry are tombstoned: at the reconcile's end stamp by its
    /// last batch, else just below its first stamp, so that no state the reconcile pushes is older.
    /// </summary>
    private static async Task<int> SweepAsync(
        NpgsqlConnection connection, PushBatch batch, SweepRange range, IEnumerable<string> held,
        Dictionary<string, VariableState> carried, CancellationToken cancellationToken)
    {
        var (where, parameters) = range.Where("s.resource_id", firstParameter: 3);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        var rows = 0;
        await using (var command = ConnectionExtensions.Command(connection, $"""
            DELETE FROM secrets s
             WHERE {where}
               AND NOT EXISTS (SELECT 1 FROM partial_replica.applied a WHERE a.resource_id = s.resource_id AND a.stamp >= $1)
               AND s.resource_id NOT IN (SELECT unnest($2::text[]))
            RETURNING s.resource_id
            """, [batch.SweepBefore, held.ToArray(), .. parameters]))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                removed.Add(reader.GetString(0));
                rows++;
            }
        }

        removed.ExceptWith(carried.Keys);
        if (removed.Count > 0)
        {
            var stamp = carried.Count == 0 ? Math.Max(batch.SweepEnd, batch.SweepBefore) : batch.SweepBefore - 1;
            await connection.ExecuteAsync("""
                INSERT INTO partial_replica.applied (resource_id, stamp, present)
                SELECT unnest($1::text[]), $2, false
                ON CONFLICT (resource_id) DO UPDATE
                   SET stamp = EXCLUDED.stamp, present = false, applied_at = clock_timestamp()
                 WHERE partial_replica.applied.stamp <= EXCLUDED.stamp
                """, cancellationToken, removed.ToArray(), stamp);
        }

        return rows;
    }

    private async ValueTask<bool> ComparesBytewiseAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        _comparesBytewise ??= await connection.ScalarAsync<bool>(ComparesBytewiseSql, cancellationToken);

    /// <summary>Within one batch a variable may appear more than once; its newest state wins.</summary>
    internal static Dictionary<string, VariableState> Latest(IReadOnlyList<VariableState> variables)
    {
        var latest = new Dictionary<string, VariableState>(StringComparer.Ordinal);
        foreach (var variable in variables)
        {
            if (!latest.TryGetValue(variable.Id, out var seen) || variable.Stamp > seen.Stamp)
            {
                latest[variable.Id] = variable;
            }
        }

        return latest;
    }
}
