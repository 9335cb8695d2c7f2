using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Setup;

/// <summary>
/// Keeps <c>partial_replica_public</c> equal to a list of tables, on the leader and on the relay alike: each table
/// gets a replica identity (FULL when it has no key), the reader role SELECT on it and nothing on <c>secrets</c>.
/// </summary>
internal static class PublicationSync
{
    /// <summary>The tables the leader publishes: every user table but <c>secrets</c> and the bookkeeping schema, plus the heartbeat.</summary>
    public static async Task<IReadOnlyList<(string Schema, string Table)>> LeaderTablesAsync(
        NpgsqlConnection leader, CancellationToken cancellationToken)
    {
        var tables = new List<(string, string)>();
        await using var command = new NpgsqlCommand("""
            SELECT n.nspname, c.relname
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND ((n.nspname NOT IN ('pg_catalog', 'information_schema', 'partial_replica', 'pg_toast')
                     AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
                     AND NOT (n.nspname = 'public' AND c.relname = 'secrets'))
                    OR (n.nspname = 'partial_replica' AND c.relname = 'heartbeat'))
             ORDER BY 1, 2
            """, leader);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tables.Add((reader.GetString(0), reader.GetString(1)));
        }

        return tables;
    }

    /// <summary>Brings the publication on <paramref name="connection"/>'s database to exactly <paramref name="wanted"/>.</summary>
    public static async Task SyncAsync(
        NpgsqlConnection connection, IReadOnlyList<(string Schema, string Table)> wanted, ILogger logger, CancellationToken cancellationToken)
    {
        var present = new Dictionary<(string, string), bool>();
        await using (var command = new NpgsqlCommand("""
            SELECT n.nspname, c.relname,
                   c.relreplident <> 'd' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p')
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                present[(reader.GetString(0), reader.GetString(1))] = reader.GetBoolean(2);
            }
        }

        var missing = wanted.Where(w => !present.ContainsKey(w)).Select(w => $"{w.Schema}.{w.Table}").ToList();
        if (missing.Count > 0)
        {
            throw new PartialReplicaException(
                $"Database {connection.Database} lacks the published table(s) {string.Join(", ", missing)}; create them there, then run setup again.");
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
        foreach (var (schema, table) in wanted)
        {
            var name = SqlIdentifier.Quote(schema, table);
            if (!present[(schema, table)])
            {
                // Published deletes and updates need a replica identity; without a key, the whole row is it.
                await connection.ExecuteAsync($"ALTER TABLE {name} REPLICA IDENTITY FULL", cancellationToken);
            }

            await connection.ExecuteAsync($"GRANT USAGE ON SCHEMA {SqlIdentifier.Quote(schema)} TO {readerRole}", cancellationToken);
            await connection.ExecuteAsync($"GRANT SELECT ON {name} TO {readerRole}", cancellationToken);
        }

        // Nothing secret is ever readable by the reader, whatever was granted by hand before.
        if (present.ContainsKey(("public", "secrets")))
        {
            await connection.ExecuteAsync($"REVOKE ALL ON public.secrets FROM {readerRole}", cancellationToken);
        }

        var wantedSet = wanted.ToHashSet();
        var publication = SqlIdentifier.Quote(ReplicationRoles.Publication);
        var toAdd = wanted.Where(w => !published.Contains(w)).Select(w => SqlIdentifier.Quote(w.Schema, w.Table)).ToList();
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

        LogMessages.PublicationSynced(logger, connection.Database, wanted.Count, toAdd.Count, toDrop.Count);
    }

    /// <summary>Creates the NOLOGIN role <paramref name="role"/> unless it exists (roles are cluster-wide; a concurrent setup may race).</summary>
    public static async Task EnsureGroupRoleAsync(NpgsqlConnection connection, string role, CancellationToken cancellationToken)
    {
        if (await connection.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, role))
        {
            return;
        }

        try
        {
            await connection.ExecuteAsync($"CREATE ROLE {SqlIdentifier.Quote(role)} NOLOGIN", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateObject or PostgresErrorCodes.UniqueViolation)
        {
            // Another setup on this server made it first.
        }
    }
}
