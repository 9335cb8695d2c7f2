using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Configuration;
using PartialReplica.Conjur;
using PartialReplica.Leader.Relay;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Setup;

/// <summary>
/// F1: prepares a leader. Idempotent: migrations run once, roles and the publication are brought to
/// the state the spec describes, tables added since the last run join the publication, and the relay
/// followers subscribe to (S6) is made or brought up to date.
/// </summary>
public sealed class LeaderSetup(ILogger logger)
{
    // The shared replication login of earlier versions: it could decode the leader's whole write stream.
    private const string OldSharedSubscriber = "partial_replica_subscriber";

    // Serialises setup runs against one leader database (they touch cluster-wide roles too).
    private const long SetupLockKey = 0x5052_5345_5455;

    /// <summary>Runs setup against the leader, then makes or updates its relay (S6).</summary>
    public async Task<SetupResult> RunAsync(string leaderConnectionString, SetupOptions options, CancellationToken cancellationToken)
    {
        await using var leader = NpgsqlDataSource.Create(leaderConnectionString);
        // The relay's checks come first: a relay that may not be made leaves the leader untouched too.
        var relayAdmin = await ChooseRelayAsync(leader, leaderConnectionString, options, cancellationToken);
        var relaySetup = new RelaySetup(logger);
        var preflight = options.CreateRelay ? await relaySetup.PreflightAsync(leaderConnectionString, relayAdmin, cancellationToken) : default;

        var applied = await new MigrationRunner(logger).MigrateAsync(leader, DatabaseRole.Leader, cancellationToken);

        string? adminApiKey;
        IReadOnlyList<(string Schema, string Table)> tables;
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock($1)", cancellationToken, SetupLockKey);

            var admin = ConjurRecords.Admin(options.Account);
            await ConjurRecords.EnsureRoleWithResourceAsync(connection, admin, admin, null, cancellationToken);
            await ConjurRecords.EnsureRoleWithResourceAsync(connection, ConjurRecords.RootPolicy(options.Account), admin, null, cancellationToken);
            adminApiKey = await ApiKeys.IssueIfMissingAsync(connection, admin.ToString(), options.DataKey, cancellationToken);

            await PublicationSync.EnsureGroupRoleAsync(connection, ReplicationRoles.Reader, cancellationToken);
            await DropOldSharedSubscriberAsync(connection, cancellationToken);
            tables = await PublicationSync.LeaderTablesAsync(connection, cancellationToken);
            await PublicationSync.SyncAsync(connection, tables, logger, cancellationToken);
            await connection.ExecuteAsync("""
                INSERT INTO partial_replica.heartbeat (id, beat_at) VALUES (1, clock_timestamp())
                ON CONFLICT (id) DO NOTHING
                """, cancellationToken);

            await transaction.CommitAsync(cancellationToken);
        }

        // After the commit: the relay copies what the leader publishes, and a slot cannot be made in a transaction that wrote.
        var relay = options.CreateRelay
            ? await relaySetup.RunAsync(leaderConnectionString, relayAdmin, tables, preflight, cancellationToken)
            : null;
        return new SetupResult(adminApiKey, tables.Select(t => $"{t.Schema}.{t.Table}").ToList(), applied, relay);
    }

    // The relay named by the options, else the one recorded by an earlier run, else partial_replica_relay beside the leader.
    private static async Task<string> ChooseRelayAsync(
        NpgsqlDataSource leader, string leaderConnectionString, SetupOptions options, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(options.RelayConnectionString))
        {
            return ConnectionStrings.Normalize(options.RelayConnectionString, "relay");
        }

        string? recorded;
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            recorded = await connection.ScalarAsync<bool>("SELECT to_regclass('partial_replica.settings') IS NOT NULL", cancellationToken)
                ? await connection.ScalarAsync<string>("SELECT value FROM partial_replica.settings WHERE name = 'relay'", cancellationToken)
                : null;
        }

        return recorded is not null
            ? new RelayLocation(recorded).AdminConnectionString(leaderConnectionString, null)
            : new NpgsqlConnectionStringBuilder(leaderConnectionString) { Database = RelayNames.DefaultDatabase }.ConnectionString;
    }

    private async Task DropOldSharedSubscriberAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!await connection.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, OldSharedSubscriber))
        {
            return;
        }

        await connection.ExecuteAsync("SAVEPOINT drop_old_subscriber", cancellationToken);
        try
        {
            await connection.ExecuteAsync($"DROP OWNED BY {SqlIdentifier.Quote(OldSharedSubscriber)}", cancellationToken);
            await connection.ExecuteAsync($"DROP ROLE {SqlIdentifier.Quote(OldSharedSubscriber)}", cancellationToken);
            await connection.ExecuteAsync("RELEASE SAVEPOINT drop_old_subscriber", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DependentObjectsStillExist or PostgresErrorCodes.ObjectInUse)
        {
            await connection.ExecuteAsync("ROLLBACK TO SAVEPOINT drop_old_subscriber", cancellationToken);
            await connection.ExecuteAsync($"ALTER ROLE {SqlIdentifier.Quote(OldSharedSubscriber)} NOLOGIN NOREPLICATION", cancellationToken);
            LogMessages.OldSubscriberNotDropped(logger, e);
        }
    }
}
