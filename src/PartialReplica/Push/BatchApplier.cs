using Npgsql;
using NpgsqlTypes;
using PartialReplica.Schema;

namespace PartialReplica.Push;

/// <summary>
/// Applies a push batch to a follower's database in one transaction, idempotently: each variable's
/// state replaces what the follower holds when, and only when, its stamp is newer.
/// </summary>
public sealed class BatchApplier(NpgsqlDataSource follower)
{
    /// <summary>
    /// "resource_id is one of the text[] $1", for applied and secrets, written so the primary key serves it
    /// as one range scan between the ids' lowest and highest: a new follower's reconcile page finds nothing
    /// there, where <c>= ANY($1)</c> alone was planned as a scan of the whole table (15–25 ms a page by the
    /// end of a 100,000-secret reconcile, measured in <c>bench</c>; 3 ms this way).
    /// </summary>
    private const string AmongIds = """
        resource_id >= (SELECT min(i) FROM unnest($1::text[]) AS i)
        AND resource_id <= (SELECT max(i) FROM unnest($1::text[]) AS i)
        AND resource_id IN (SELECT unnest($1::text[]))
        """;

    // One apply at a time per follower database: two gateways' overlapping batches serialise here.
    private const long ApplyLockKey = 0x5052_4150_504c;

    /// <summary>Applies the batch; returns what changed.</summary>
    public async Task<ApplyReport> ApplyAsync(PushBatch batch, CancellationToken cancellationToken)
    {
        var startedAt = DateTime.UtcNow;
        var latest = Latest(batch.Variables);
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, ApplyLockKey);

        var held = await ReadHeldAsync(connection, latest.Keys, cancellationToken);
        var accepted = latest.Values.Where(v => !held.TryGetValue(v.Id, out var stamp) || v.Stamp > stamp).ToList();
        var upserts = 0;
        var deletes = 0;

        // Variables this follower never held (a first reconcile: all of them) are copied in binary, as
        // native logical replication's initial sync does; the rest are merged.
        var fresh = accepted.Where(v => !held.ContainsKey(v.Id)).ToList();
        var known = accepted.Where(v => held.ContainsKey(v.Id)).ToList();
        if (fresh.Count > 0)
        {
            (upserts, deletes) = await CopyFreshAsync(connection, fresh, cancellationToken);
        }

        if (known.Count > 0)
        {
            var (merged, removed) = await MergeKnownAsync(connection, known, cancellationToken);
            upserts += merged;
            deletes += removed;
        }

        if (batch.KeepOnly is { } keep)
        {
            deletes += await RemoveUngrantedAsync(connection, keep, batch.KeepOnlyStamp, cancellationToken);
        }

        if (batch.SweepBefore > 0)
        {
            deletes += await SweepAsync(connection, batch.SweepBefore, batch.KeepOnlyStamp, cancellationToken);
        }

        var report = new ApplyReport(latest.Count, latest.Count - accepted.Count, upserts, deletes);
        await connection.ExecuteAsync("""
            INSERT INTO partial_replica.apply_log (batch_id, gateway, started_at, variables, skipped, upserts, deletes)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, cancellationToken, batch.BatchId, batch.Gateway, startedAt, report.Variables, report.Skipped, report.Upserts, report.Deletes);
        await transaction.CommitAsync(cancellationToken);
        return report;
    }

    /// <summary>The applied stamps of those of <paramref name="ids"/> the follower has applied rows for.</summary>
    private static async Task<Dictionary<string, long>> ReadHeldAsync(
        NpgsqlConnection connection, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var held = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = ConnectionExtensions.Command(connection,
            $"SELECT resource_id, stamp FROM partial_replica.applied WHERE {AmongIds}", new object?[] { ids.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            held[reader.GetString(0)] = reader.GetInt64(1);
        }

        return held;
    }

    /// <summary>
    /// Writes the states of variables new to this follower (no applied row) by binary COPY. Rows a follower
    /// holds without an applied row (restored by hand, say) are removed first, so the copy can neither collide
    /// nor leave them.
    /// </summary>
    private static async Task<(int Upserts, int Deletes)> CopyFreshAsync(NpgsqlConnection connection, List<VariableState> fresh, CancellationToken cancellationToken)
    {
        var deletes = await connection.ExecuteAsync($"DELETE FROM secrets WHERE {AmongIds}", cancellationToken,
            new object?[] { fresh.Select(v => v.Id).ToArray() });
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
        var ids = known.Select(v => v.Id).ToArray();
        var versions = known.SelectMany(v => v.Versions.Select(s => (v.Id, s))).ToList();
        var versionIds = versions.Select(x => x.Id).ToArray();
        var versionNumbers = versions.Select(x => x.s.Version).ToArray();

        // Versions the new states no longer hold: pruned, deleted, or the whole variable revoked.
        var deletes = await connection.ExecuteAsync("""
            DELETE FROM secrets s
             WHERE s.resource_id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::int[]) AS k(resource_id, version)
                                WHERE k.resource_id = s.resource_id AND k.version = s.version)
            """, cancellationToken, ids, versionIds, versionNumbers);

        var upserts = 0;
        if (versions.Count > 0)
        {
            upserts = await connection.ExecuteAsync("""
                INSERT INTO secrets (resource_id, version, value, expires_at)
                SELECT * FROM unnest($1::text[], $2::int[], $3::bytea[], $4::timestamptz[])
                ON CONFLICT (resource_id, version) DO UPDATE
                   SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                 WHERE secrets.value IS DISTINCT FROM EXCLUDED.value
                    OR secrets.expires_at IS DISTINCT FROM EXCLUDED.expires_at
                """, cancellationToken,
                versionIds,
                versionNumbers,
                versions.Select(x => x.s.Value).ToArray(),
                new NpgsqlParameter { Value = versions.Select(x => x.s.ExpiresAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        }

        await connection.ExecuteAsync("""
            UPDATE partial_replica.applied a
               SET stamp = k.stamp, present = k.present, applied_at = clock_timestamp()
              FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS k(resource_id, stamp, present)
             WHERE a.resource_id = k.resource_id
            """, cancellationToken,
            ids,
            known.Select(v => v.Stamp).ToArray(),
            known.Select(v => v.Versions.Count > 0).ToArray());
        return (upserts, deletes);
    }

    /// <summary>
    /// Removes every secret outside <paramref name="keep"/> whose applied state is older than the list,
    /// leaving tombstones so an older push cannot bring them back.
    /// </summary>
    private static async Task<int> RemoveUngrantedAsync(NpgsqlConnection connection, IReadOnlyList<string> keep, long stamp, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            WITH removed AS (
                DELETE FROM secrets s
                 WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS k(resource_id) WHERE k.resource_id = s.resource_id)
                   AND NOT EXISTS (SELECT 1 FROM partial_replica.applied a WHERE a.resource_id = s.resource_id AND a.stamp >= $2)
                RETURNING s.resource_id),
            tombstones AS (
                INSERT INTO partial_replica.applied (resource_id, stamp, present)
                SELECT DISTINCT resource_id, $2, false FROM removed
                ON CONFLICT (resource_id) DO UPDATE
                   SET stamp = EXCLUDED.stamp, present = false, applied_at = clock_timestamp()
                 WHERE partial_replica.applied.stamp < EXCLUDED.stamp)
            SELECT count(*) FROM removed
            """, keep.ToArray(), stamp);
        return (int)(long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Removes every secret whose applied state is older than <paramref name="before"/> (or missing), leaving
    /// tombstones at <paramref name="stamp"/>. A reconcile's pages all carry newer states, so this removes just
    /// what the reconcile did not push, without a list of everything it did (100,000 ids for P1's follower).
    /// </summary>
    private static async Task<int> SweepAsync(NpgsqlConnection connection, long before, long stamp, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, """
            WITH removed AS (
                DELETE FROM secrets s
                 WHERE NOT EXISTS (SELECT 1 FROM partial_replica.applied a WHERE a.resource_id = s.resource_id AND a.stamp >= $1)
                RETURNING s.resource_id),
            tombstones AS (
                INSERT INTO partial_replica.applied (resource_id, stamp, present)
                SELECT DISTINCT resource_id, $2, false FROM removed
                ON CONFLICT (resource_id) DO UPDATE
                   SET stamp = EXCLUDED.stamp, present = false, applied_at = clock_timestamp()
                 WHERE partial_replica.applied.stamp < EXCLUDED.stamp)
            SELECT count(*) FROM removed
            """, before, Math.Max(stamp, before));
        return (int)(long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Within one batch a variable may appear more than once; its newest state wins.</summary>
    private static Dictionary<string, VariableState> Latest(IReadOnlyList<VariableState> variables)
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
