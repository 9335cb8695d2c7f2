using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Setup;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// Brings the relay back when its slot on the leader is gone or lost (<c>wal_status = 'lost'</c>: the leader's
/// <c>max_slot_wal_keep_size</c> removed WAL the relay had not read yet, say during a bulk load while the relay fell
/// behind). Such a slot can never stream again, and every follower reads the relay: without this, no follower would
/// see another leader change, heartbeats included, so pushes would be refused as ahead of them.
/// </summary>
/// <remarks>
/// <para>
/// A new slot is made over a replication connection that exports its snapshot; the leader's published tables are read
/// in that snapshot and the relay's tables are brought to them row by row (deleted, inserted or updated only where they
/// differ) in one relay transaction; then the subscription is made again on that slot without a copy, so it streams
/// exactly the commits after the snapshot. The relay's followers receive the differences as ordinary changes, so their
/// subscriptions and slots carry on untouched.
/// </para>
/// <para>
/// Before that, a first pass brings the relay's tables near the leader's with no slot held, one table per transaction.
/// A relay in the leader's server writes the leader server's WAL, and what a slot holds while the relay catches up from
/// far behind (a million rows: gigabytes) would invalidate that slot in turn, and any other slot made meanwhile (a
/// follower registering). The second pass, under the new slot, then writes only what changed since the first.
/// </para>
/// <para>
/// Emptying the relay's tables and copying them anew would instead send the followers a TRUNCATE, which a follower
/// cannot apply to <c>resources</c> while its pushed <c>secrets</c> reference it.
/// </para>
/// </remarks>
internal sealed class RelayRebuild(string leaderConnectionString, ILogger logger)
{
    /// <summary>
    /// How the relay is broken, or null when it is not: its slot on the leader lost or missing, or its subscription
    /// missing (a rebuild stopped part way). Asked only of a relay the leader records, which setup made complete.
    /// </summary>
    public static async Task<string?> BrokenAsync(NpgsqlConnection leader, NpgsqlConnection relay, CancellationToken cancellationToken)
    {
        var subscription = RelayNames.UpstreamSubscription(relay.Database);
        if (!await SubscriptionState.ExistsAsync(relay, subscription, cancellationToken))
        {
            return "its subscription was missing (a rebuild stopped part way)";
        }

        var status = await leader.ScalarAsync<string>(
            "SELECT coalesce((SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1), 'missing')", cancellationToken, subscription);
        return status is "lost" or "missing" ? $"its slot on the leader was {status}" : null;
    }

    /// <summary>Rebuilds the relay (see the class comment); returns how many relay rows it changed.</summary>
    public async Task<long> RunAsync(NpgsqlConnection leader, NpgsqlConnection relay, CancellationToken cancellationToken)
    {
        var subscription = RelayNames.UpstreamSubscription(relay.Database);
        var login = RelayNames.UpstreamLogin(relay.Database);
        var quoted = SqlIdentifier.Quote(subscription);

        // The replication connection first, with the login's new password (the subscription made at the end holds the
        // only copy): a gateway that may not open one (pg_hba.conf) stops here, before anything is dropped.
        var password = await RelaySetup.RotateUpstreamPasswordAsync(leader, login, cancellationToken);
        var upstream = new NpgsqlConnectionStringBuilder(leaderConnectionString)
        {
            Username = login,
            Password = password,
            ApplicationName = subscription,
            Pooling = false,
        };
        await using var replication = new LogicalReplicationConnection(upstream.ConnectionString);
        try
        {
            await replication.Open(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException && !cancellationToken.IsCancellationRequested)
        {
            throw new PartialReplicaException(
                $"The relay {relay.Database} needs rebuilding, but this gateway cannot open a replication connection to the leader as " +
                $"{login} ({e.Message}); let pg_hba.conf admit it from the gateway's host.", e);
        }

        // The old subscription and its slot go next: the new slot takes the same name. A rebuild stopped part way
        // left either none, or a slot without a subscription: both are made anew.
        if (await SubscriptionState.ExistsAsync(relay, subscription, cancellationToken))
        {
            await relay.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} DISABLE", cancellationToken);
            await relay.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} SET (slot_name = NONE)", cancellationToken);
            await relay.ExecuteAsync($"DROP SUBSCRIPTION {quoted}", cancellationToken);
        }

        await leader.ExecuteAsync(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", cancellationToken, subscription);

        var tables = await PublishedTablesAsync(relay, cancellationToken);
        long nearly = 0;
        foreach (var table in tables)
        {
            await using var snapshot = await leader.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
            await using var merge = await relay.BeginTransactionAsync(cancellationToken);
            nearly += await MergeTableAsync(leader, relay, table, cancellationToken);
            await merge.CommitAsync(cancellationToken);
            await snapshot.CommitAsync(cancellationToken);
        }

        var slot = await replication.CreatePgOutputReplicationSlot(
            subscription, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);

        // The snapshot stays importable while the replication connection is open and idle.
        long changed = nearly;
        await using (var snapshot = await leader.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken))
        {
            await leader.ExecuteAsync($"SET TRANSACTION SNAPSHOT {SqlIdentifier.Literal(slot.SnapshotName!)}", cancellationToken);
            await using var merge = await relay.BeginTransactionAsync(cancellationToken);
            foreach (var table in tables)
            {
                changed += await MergeTableAsync(leader, relay, table, cancellationToken);
            }

            await merge.CommitAsync(cancellationToken);
            await snapshot.CommitAsync(cancellationToken);
        }

        // Closed before the subscription starts: the connection that made the slot holds it until then.
        await replication.DisposeAsync();
        await RelaySetup.CreateUpstreamSubscriptionAsync(
            relay, new NpgsqlConnectionStringBuilder(leaderConnectionString), leader.Database, login, password, subscription, copyData: false,
            cancellationToken);
        LogMessages.RelayRebuilt(logger, relay.Database, subscription, changed);
        return changed;
    }

    /// <summary>A published table on the relay: its quoted name, its columns (in order) and its primary key's (none: empty).</summary>
    private sealed record PublishedTable(string Name, IReadOnlyList<string> Columns, IReadOnlyList<string> Key);

    private static async Task<IReadOnlyList<PublishedTable>> PublishedTablesAsync(NpgsqlConnection relay, CancellationToken cancellationToken)
    {
        var tables = new List<PublishedTable>();
        foreach (var (schema, table) in await PublishedTableShapes.PublishedAsync(relay, cancellationToken))
        {
            var name = SqlIdentifier.Quote(schema, table);
            // Generated columns are neither published nor written.
            var columns = (await PublishedTableShapes.ColumnsAsync(relay, name, cancellationToken)).Where(c => !c.Generated).Select(c => SqlIdentifier.Quote(c.Name));
            var key = (await PublishedTableShapes.PrimaryKeyAsync(relay, name, cancellationToken)).Select(SqlIdentifier.Quote);
            tables.Add(new PublishedTable(name, [.. columns], [.. key]));
        }

        return tables;
    }

    /// <summary>
    /// Copies the leader's rows of <paramref name="table"/> (in the snapshot's transaction) into a temporary table on the
    /// relay, then changes the relay's table only where it differs: by primary key (rows deleted, inserted, or updated
    /// when any column differs), or for a table without one, by whole rows. Returns the rows changed.
    /// </summary>
    private static async Task<long> MergeTableAsync(NpgsqlConnection leader, NpgsqlConnection relay, PublishedTable table, CancellationToken cancellationToken)
    {
        var columns = string.Join(", ", table.Columns);
        await relay.ExecuteAsync($"CREATE TEMP TABLE partial_replica_rebuild ON COMMIT DROP AS SELECT {columns} FROM {table.Name} WITH NO DATA", cancellationToken);
        await using (var source = await leader.BeginRawBinaryCopyAsync($"COPY (SELECT {columns} FROM {table.Name}) TO STDOUT (FORMAT binary)", cancellationToken))
        await using (var target = await relay.BeginRawBinaryCopyAsync($"COPY partial_replica_rebuild ({columns}) FROM STDIN (FORMAT binary)", cancellationToken))
        {
            await source.CopyToAsync(target, cancellationToken);
        }

        long changed;
        if (table.Key.Count > 0)
        {
            var keyMatch = string.Join(" AND ", table.Key.Select(k => $"s.{k} = t.{k}"));
            var updates = string.Join(", ", table.Columns.Select(c => $"{c} = EXCLUDED.{c}"));
            changed = await relay.ExecuteAsync(
                $"DELETE FROM {table.Name} t WHERE NOT EXISTS (SELECT 1 FROM partial_replica_rebuild s WHERE {keyMatch})", cancellationToken);
            changed += await relay.ExecuteAsync(
                $"INSERT INTO {table.Name} AS t ({columns}) SELECT {columns} FROM partial_replica_rebuild " +
                $"ON CONFLICT ({string.Join(", ", table.Key)}) DO UPDATE SET {updates} " +
                $"WHERE ({string.Join(", ", table.Columns.Select(c => "t." + c))}) IS DISTINCT FROM ({string.Join(", ", table.Columns.Select(c => "EXCLUDED." + c))})",
                cancellationToken);
        }
        else
        {
            // Without a key (Conjur's policy_log), rows are told apart only whole, as many times as they occur: the
            // relay's n-th copy of a row goes when the leader has fewer than n; then what the leader has more of comes.
            var row = $"ROW({columns})::text";
            changed = await relay.ExecuteAsync($"""
                DELETE FROM {table.Name} WHERE ctid IN (
                    SELECT t.ctid FROM (SELECT ctid, {row} AS r, row_number() OVER (PARTITION BY {row}) AS n FROM {table.Name}) t
                     WHERE NOT EXISTS (SELECT 1 FROM (SELECT {row} AS r, row_number() OVER (PARTITION BY {row}) AS n
                                                        FROM partial_replica_rebuild) s
                                        WHERE s.r = t.r AND s.n = t.n))
                """, cancellationToken);
            changed += await relay.ExecuteAsync(
                $"INSERT INTO {table.Name} ({columns}) SELECT {columns} FROM partial_replica_rebuild EXCEPT ALL SELECT {columns} FROM {table.Name}",
                cancellationToken);
        }

        await relay.ExecuteAsync("DROP TABLE partial_replica_rebuild", cancellationToken);
        return changed;
    }
}
