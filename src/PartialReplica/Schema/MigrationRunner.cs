using Microsoft.Extensions.Logging;
using Npgsql;

namespace PartialReplica.Schema;

/// <summary>
/// Brings a database to the newest schema for its role. Each run is one transaction under an advisory
/// lock, so concurrent runs serialise and a failed migration leaves nothing behind. Re-running is a no-op.
/// </summary>
public sealed class MigrationRunner(ILogger logger)
{
    // Arbitrary but fixed: every process migrating one database takes the same lock.
    private const long MigrationLockKey = 0x5052_4d49_4752;

    /// <summary>Applies the pending migrations; returns the versions it applied.</summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(
        NpgsqlDataSource dataSource, DatabaseRole role, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, MigrationLockKey);
        await connection.ExecuteAsync("""
            CREATE SCHEMA IF NOT EXISTS partial_replica;
            CREATE TABLE IF NOT EXISTS partial_replica.schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS partial_replica.node (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                role      text NOT NULL CHECK (role IN ('leader', 'follower', 'relay')));
            """, cancellationToken);

        var roleName = role.ToString().ToLowerInvariant();
        var existing = await connection.ScalarAsync<string>("SELECT role FROM partial_replica.node", cancellationToken);
        if (existing is not null && existing != roleName)
        {
            throw new PartialReplicaException(
                $"Database {connection.Database} is already a {existing}; it cannot also be a {roleName}. " +
                "Use a separate database for each side.");
        }

        if (existing is null)
        {
            await connection.ExecuteAsync("INSERT INTO partial_replica.node (role) VALUES ($1)", cancellationToken, roleName);
        }

        var applied = new HashSet<int>();
        await using (var command = new NpgsqlCommand("SELECT version FROM partial_replica.schema_migrations", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        var newlyApplied = new List<int>();
        foreach (var migration in Migration.All)
        {
            if (!migration.AppliesTo(role) || applied.Contains(migration.Version))
            {
                continue;
            }

            await connection.ExecuteAsync(migration.Sql, cancellationToken);
            await connection.ExecuteAsync(
                "INSERT INTO partial_replica.schema_migrations (version, name) VALUES ($1, $2)",
                cancellationToken, migration.Version, migration.Name);
            LogMessages.MigrationApplied(logger, connection.Database, migration.Name);
            newlyApplied.Add(migration.Version);
        }

        await transaction.CommitAsync(cancellationToken);
        return newlyApplied;
    }

}
