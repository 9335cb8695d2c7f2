using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Setup;

/// <summary>
/// Gives a subscriber (the relay, a follower) every published table of its publisher with the publisher's columns.
/// The baseline makes Conjur's tables everywhere; a leader whose schema Conjur made may publish more (Conjur's own
/// <c>schema_migrations</c>, tables or columns of a newer Conjur), and a subscriber whose table is missing, or lacks
/// a published column, stops applying. Only what is missing is added; nothing is dropped or retyped.
/// </summary>
internal static class PublishedTableShapes
{
    /// <summary>Creates on <paramref name="target"/> the tables and columns of <paramref name="tables"/> it lacks, as <paramref name="source"/> has them.</summary>
    public static async Task CreateMissingAsync(
        NpgsqlConnection source, NpgsqlConnection target, IReadOnlyList<(string Schema, string Table)> tables, CancellationToken cancellationToken)
    {
        foreach (var (schema, table) in tables)
        {
            var name = SqlIdentifier.Quote(schema, table);
            var columns = await ColumnsAsync(source, name, cancellationToken);
            if (!await target.ScalarAsync<bool>("SELECT to_regclass($1) IS NOT NULL", cancellationToken, name))
            {
                var key = await PrimaryKeyAsync(source, name, cancellationToken);
                var definitions = columns.Select(c => $"{SqlIdentifier.Quote(c.Name)} {c.Type}{(c.NotNull ? " NOT NULL" : "")}").ToList();
                if (key.Length > 0)
                {
                    definitions.Add($"PRIMARY KEY ({string.Join(", ", key.Select(SqlIdentifier.Quote))})");
                }

                await target.ExecuteAsync($"CREATE SCHEMA IF NOT EXISTS {SqlIdentifier.Quote(schema)}", cancellationToken);
                await target.ExecuteAsync($"CREATE TABLE {name} ({string.Join(", ", definitions)})", cancellationToken);
                continue;
            }

            var present = (await ColumnsAsync(target, name, cancellationToken)).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var column in columns.Where(c => !present.Contains(c.Name)))
            {
                // Nullable: the table may hold rows already; the publisher's rows bring the values.
                await target.ExecuteAsync(
                    $"ALTER TABLE {name} ADD COLUMN {SqlIdentifier.Quote(column.Name)} {column.Type}", cancellationToken);
            }
        }
    }

    /// <summary>The tables a database's publication <c>partial_replica_public</c> holds.</summary>
    public static async Task<IReadOnlyList<(string Schema, string Table)>> PublishedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var tables = new List<(string, string)>();
        await using var command = ConnectionExtensions.Command(connection,
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2",
            ReplicationRoles.Publication);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tables.Add((reader.GetString(0), reader.GetString(1)));
        }

        return tables;
    }

    /// <summary>The primary key's column names of <paramref name="table"/> (a quoted name), in key order; empty without one.</summary>
    public static async Task<string[]> PrimaryKeyAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken) =>
        await connection.ScalarAsync<string[]>("""
            SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = $1::regclass AND i.indisprimary
            """, cancellationToken, table) ?? [];

    /// <summary>The columns of <paramref name="table"/> (a quoted name) in order: name, type, NOT NULL, generated.</summary>
    public static async Task<List<(string Name, string Type, bool NotNull, bool Generated)>> ColumnsAsync(
        NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        var columns = new List<(string, string, bool, bool)>();
        // format_type qualifies a type whose schema is not on the search path (hstore, Conjur's enums elsewhere).
        await using var command = ConnectionExtensions.Command(connection, """
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated <> ''
              FROM pg_attribute a
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum
            """, table);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            columns.Add((reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3)));
        }

        return columns;
    }
}
