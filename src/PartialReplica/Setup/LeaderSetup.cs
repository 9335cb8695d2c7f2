using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Schema;

namespace PartialReplica.Setup;

/// <summary>
/// F1: prepares a leader. Idempotent: migrations run once, roles and the publication are brought to
/// the state the spec describes, tables added since the last run join the publication.
/// </summary>
public sealed class LeaderSetup(ILogger logger)
{
    private const string SubscriberPasswordSetting = "subscriber_password";

    // Serialises setup runs against one leader database (they touch cluster-wide roles too).
    private const long SetupLockKey = 0x5052_5345_5455;

    /// <summary>Runs setup against the leader.</summary>
    public async Task<SetupResult> RunAsync(NpgsqlDataSource leader, SetupOptions options, CancellationToken cancellationToken)
    {
        var applied = await new MigrationRunner(logger).MigrateAsync(leader, DatabaseRole.Leader, cancellationToken);

        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, SetupLockKey);

        var admin = ConjurRecords.Admin(options.Account);
        await ConjurRecords.EnsureRoleWithResourceAsync(connection, admin, admin, null, cancellationToken);
        await ConjurRecords.EnsureRoleWithResourceAsync(connection, ConjurRecords.RootPolicy(options.Account), admin, null, cancellationToken);
        var adminApiKey = await ApiKeys.IssueIfMissingAsync(connection, admin.ToString(), cancellationToken);

        await EnsureRolesAsync(connection, options, cancellationToken);
        var tables = await SyncPublicationAsync(connection, cancellationToken);
        await connection.ExecuteAsync("""
            INSERT INTO partial_replica.heartbeat (id, beat_at) VALUES (1, clock_timestamp())
            ON CONFLICT (id) DO NOTHING
            """, cancellationToken);

        await transaction.CommitAsync(cancellationToken);
        return new SetupResult(adminApiKey, tables, applied);
    }

    /// <summary>The subscriber password recorded by setup; follower init builds its subscription with it.</summary>
    public static async Task<string> ReadSubscriberPasswordAsync(NpgsqlConnection leader, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT value FROM partial_replica.settings WHERE name = $1
              AND EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)
            """, leader);
        command.Parameters.Add(new NpgsqlParameter { Value = SubscriberPasswordSetting });
        command.Parameters.Add(new NpgsqlParameter { Value = ReplicationRoles.Publication });
        try
        {
            return (string?)await command.ExecuteScalarAsync(cancellationToken)
                ?? throw NotSetUp(leader.Database);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw NotSetUp(leader.Database);
        }
    }

    private static PartialReplicaException NotSetUp(string database) =>
        new($"The leader database {database} has not been set up for partial replication. Run 'partial-replica setup' against it first.");

    private async Task EnsureRolesAsync(NpgsqlConnection connection, SetupOptions options, CancellationToken cancellationToken)
    {
        var recorded = await connection.ScalarAsync<string>("SELECT value FROM partial_replica.settings WHERE name = $1", cancellationToken, SubscriberPasswordSetting);
        var subscriberExists = await RoleExistsAsync(connection, ReplicationRoles.Subscriber, cancellationToken);
        if (!await RoleExistsAsync(connection, ReplicationRoles.Reader, cancellationToken))
        {
            await connection.ExecuteAsync($"CREATE ROLE {SqlIdentifier.Quote(ReplicationRoles.Reader)} NOLOGIN", cancellationToken);
        }

        // The password is kept when it is known and not overridden: changing it would break existing subscriptions.
        var password = options.SubscriberPassword ?? recorded;
        var mustSetPassword = !subscriberExists || options.SubscriberPassword is not null || recorded is null;
        if (password is null)
        {
            password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            if (subscriberExists)
            {
                LogMessages.SubscriberPasswordReset(logger);
            }
        }

        var subscriber = SqlIdentifier.Quote(ReplicationRoles.Subscriber);
        if (!subscriberExists)
        {
            await connection.ExecuteAsync($"CREATE ROLE {subscriber} LOGIN REPLICATION", cancellationToken);
        }

        if (mustSetPassword)
        {
            await connection.ExecuteAsync($"ALTER ROLE {subscriber} WITH LOGIN REPLICATION PASSWORD {SqlIdentifier.Literal(password)}", cancellationToken);
            await connection.ExecuteAsync("""
                INSERT INTO partial_replica.settings (name, value) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value
                """, cancellationToken, SubscriberPasswordSetting, password);
        }

        await connection.ExecuteAsync($"GRANT {SqlIdentifier.Quote(ReplicationRoles.Reader)} TO {subscriber}", cancellationToken);
    }

    /// <summary>
    /// Keeps the publication equal to every user table but <c>secrets</c> and the bookkeeping schema, plus
    /// the heartbeat table; gives the reader SELECT on exactly those.
    /// </summary>
    private async Task<IReadOnlyList<string>> SyncPublicationAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var wanted = new List<(string Schema, string Table, bool HasIdentity)>();
        await using (var command = new NpgsqlCommand("""
            SELECT n.nspname, c.relname,
                   c.relreplident <> 'd' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND ((n.nspname NOT IN ('pg_catalog', 'information_schema', 'partial_replica', 'pg_toast')
                     AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
                     AND NOT (n.nspname = 'public' AND c.relname = 'secrets'))
                    OR (n.nspname = 'partial_replica' AND c.relname = 'heartbeat'))
             ORDER BY 1, 2
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                wanted.Add((reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
            }
        }

        var published = new HashSet<(string, string)>();
        var publicationExists = false;
        await using (var command = new NpgsqlCommand("""
            SELECT p.pubname IS NOT NULL, t.schemaname, t.tablename
              FROM (SELECT 1) one
              LEFT JOIN pg_publication p ON p.pubname = $1
              LEFT JOIN pg_publication_tables t ON t.pubname = p.pubname
            """, connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = ReplicationRoles.Publication });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                publicationExists = reader.GetBoolean(0);
                if (!reader.IsDBNull(1))
                {
                    published.Add((reader.GetString(1), reader.GetString(2)));
                }
            }
        }

        var readerRole = SqlIdentifier.Quote(ReplicationRoles.Reader);
        foreach (var (schema, table, hasIdentity) in wanted)
        {
            var name = SqlIdentifier.Quote(schema, table);
            if (!hasIdentity)
            {
                // Published deletes and updates need a replica identity; without a key, the whole row is it.
                await connection.ExecuteAsync($"ALTER TABLE {name} REPLICA IDENTITY FULL", cancellationToken);
            }

            await connection.ExecuteAsync($"GRANT USAGE ON SCHEMA {SqlIdentifier.Quote(schema)} TO {readerRole}", cancellationToken);
            await connection.ExecuteAsync($"GRANT SELECT ON {name} TO {readerRole}", cancellationToken);
        }

        // Nothing secret is ever readable by the subscriber, whatever was granted by hand before.
        await connection.ExecuteAsync($"REVOKE ALL ON public.secrets FROM {readerRole}, {SqlIdentifier.Quote(ReplicationRoles.Subscriber)}", cancellationToken);

        var wantedSet = wanted.Select(w => (w.Schema, w.Table)).ToHashSet();
        var publication = SqlIdentifier.Quote(ReplicationRoles.Publication);
        var toAdd = wanted.Where(w => !published.Contains((w.Schema, w.Table))).Select(w => SqlIdentifier.Quote(w.Schema, w.Table)).ToList();
        var toDrop = published.Where(p => !wantedSet.Contains(p)).Select(p => SqlIdentifier.Quote(p.Item1, p.Item2)).ToList();
        if (!publicationExists)
        {
            await connection.ExecuteAsync($"CREATE PUBLICATION {publication} FOR TABLE {string.Join(", ", toAdd)}", cancellationToken);
        }
        else
        {
            if (toAdd.Count > 0)
            {
                await connection.ExecuteAsync($"ALTER PUBLICATION {publication} ADD TABLE {string.Join(", ", toAdd)}", cancellationToken);
            }

            if (toDrop.Count > 0)
            {
                await connection.ExecuteAsync($"ALTER PUBLICATION {publication} DROP TABLE {string.Join(", ", toDrop)}", cancellationToken);
            }
        }

        LogMessages.PublicationSynced(logger, wanted.Count, toAdd.Count, toDrop.Count);
        return wanted.Select(w => $"{w.Schema}.{w.Table}").ToList();
    }

    private static async Task<bool> RoleExistsAsync(NpgsqlConnection connection, string role, CancellationToken cancellationToken) =>
        await connection.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, role);
}
