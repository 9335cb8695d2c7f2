using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Setup;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>What <see cref="RelaySetup"/> made or found.</summary>
/// <param name="Location">Where the relay is (no password).</param>
/// <param name="InLeaderCluster">Whether the relay database lives in the leader's own server.</param>
/// <param name="HbaAdvice">For a relay on its own server whose pg_hba.conf lets follower logins further: what to add.</param>
public sealed record RelaySetupResult(RelayLocation Location, bool InLeaderCluster, string? HbaAdvice);

/// <summary>
/// S6: makes the relay database that followers subscribe to. It holds the leader's published tables only: it
/// subscribes to the leader's publication with a login used on the leader's side alone and republishes the same
/// tables under the same publication name. A follower's login (made by <c>follower init</c> on the relay's server)
/// thus decodes nothing but published rows and never reaches the leader database. Idempotent.
/// </summary>
internal sealed partial class RelaySetup(ILogger logger)
{
    private static readonly TimeSpan InitialCopyTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Makes or updates the relay at <paramref name="relayAdmin"/> for the leader at <paramref name="leaderConnectionString"/>,
    /// once <see cref="PreflightAsync(string, string, CancellationToken)"/> has passed and said where the relay is.
    /// </summary>
    public async Task<RelaySetupResult> RunAsync(
        string leaderConnectionString, string relayAdmin, IReadOnlyList<(string Schema, string Table)> tables,
        (bool InLeaderCluster, string? HbaAdvice) preflight, CancellationToken cancellationToken)
    {
        var leaderBuilder = new NpgsqlConnectionStringBuilder(leaderConnectionString);
        var relayDatabase = new NpgsqlConnectionStringBuilder(relayAdmin).Database!; // the preflight refused a connection naming none

        await using var leader = new NpgsqlConnection(leaderConnectionString);
        await leader.OpenAsync(cancellationToken);
        await using var maintenance = await OpenMaintenanceAsync(relayAdmin, cancellationToken);
        if (!await maintenance.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", cancellationToken, relayDatabase))
        {
            await maintenance.ExecuteAsync($"CREATE DATABASE {SqlIdentifier.Quote(relayDatabase)}", cancellationToken);
        }

        await using var relaySource = NpgsqlDataSource.Create(relayAdmin);
        await new MigrationRunner(logger).MigrateAsync(relaySource, DatabaseRole.Relay, cancellationToken);

        var login = RelayNames.UpstreamLogin(relayDatabase);
        var subscription = RelayNames.UpstreamSubscription(relayDatabase);
        await using var relay = await relaySource.OpenConnectionAsync(cancellationToken);
        await CheckNotRelayingAnotherAsync(relay, subscription, leaderBuilder, leader.Database, cancellationToken);
        // Tables or columns a Conjur-made leader publishes beyond the baseline's (its own schema_migrations, say).
        await PublishedTableShapes.CreateMissingAsync(leader, relay, tables, cancellationToken);

        await using (var transaction = await relay.BeginTransactionAsync(cancellationToken))
        {
            await PublicationSync.EnsureGroupRoleAsync(relay, ReplicationRoles.Reader, cancellationToken);
            await PublicationSync.EnsureGroupRoleAsync(relay, RelayNames.FollowerLogins, cancellationToken);
            await PublicationSync.EnsureGroupRoleAsync(relay, RelayNames.DatabaseGroup(relayDatabase), cancellationToken);
            await PublicationSync.SyncAsync(relay, tables, logger, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        // The relay's own login on the leader: REPLICATION and the reader's SELECTs, used between leader and relay only.
        if (!await leader.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, login))
        {
            await leader.ExecuteAsync($"CREATE ROLE {SqlIdentifier.Quote(login)} LOGIN REPLICATION", cancellationToken);
        }

        await leader.ExecuteAsync($"GRANT {SqlIdentifier.Quote(ReplicationRoles.Reader)} TO {SqlIdentifier.Quote(login)}", cancellationToken);

        // Made here, not by CREATE SUBSCRIPTION, which hangs when publisher and subscriber share a server.
        if (!await leader.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", cancellationToken, subscription))
        {
            await leader.ExecuteAsync("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", cancellationToken, subscription);
        }

        // synchronous_commit 'local': a subscription's apply worker commits with it off by default, so what the relay
        // applies would reach its WAL's disk, and with it the followers (walsenders send only flushed WAL), only at
        // the WAL writer's next round (200 ms), which would add that much to every commit-to-visible.
        if (await SubscriptionState.ExistsAsync(relay, subscription, cancellationToken))
        {
            var quoted = SqlIdentifier.Quote(subscription);
            await relay.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} SET (synchronous_commit = 'local')", cancellationToken);
            await relay.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} ENABLE", cancellationToken);
            // Tables the leader began publishing since the last run are copied now.
            await relay.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} REFRESH PUBLICATION", cancellationToken);
        }
        else
        {
            var password = await RotateUpstreamPasswordAsync(leader, login, cancellationToken);
            await CreateUpstreamSubscriptionAsync(relay, leaderBuilder, leader.Database, login, password, subscription, copyData: true, cancellationToken);
        }

        await SubscriptionState.WaitUntilReadyAsync(relaySource, subscription, InitialCopyTimeout, cancellationToken);
        LogMessages.RelaySubscribed(logger, relayDatabase, login, subscription);

        var location = RelayLocation.FromAdminConnection(relayAdmin);
        await location.WriteAsync(leader, cancellationToken);
        return new RelaySetupResult(location, preflight.InLeaderCluster, preflight.HbaAdvice);
    }

    /// <summary>
    /// Gives the relay's upstream login on the leader a fresh password and returns it: each time the subscription is
    /// made, so the subscription holds the only copy.
    /// </summary>
    internal static async Task<string> RotateUpstreamPasswordAsync(NpgsqlConnection leader, string login, CancellationToken cancellationToken)
    {
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await leader.ExecuteAsync($"ALTER ROLE {SqlIdentifier.Quote(login)} WITH LOGIN REPLICATION PASSWORD {SqlIdentifier.Literal(password)}", cancellationToken);
        return password;
    }

    /// <summary>
    /// Creates the relay's subscription to the leader's publication through the existing slot named like it (made
    /// beforehand: CREATE SUBSCRIPTION hangs making one when publisher and subscriber share a server).
    /// <paramref name="copyData"/>: whether it copies the tables first (a new relay) or only streams (a rebuilt one,
    /// whose tables were brought to the slot's snapshot already).
    /// </summary>
    internal static async Task CreateUpstreamSubscriptionAsync(
        NpgsqlConnection relay, NpgsqlConnectionStringBuilder leaderBuilder, string leaderDatabase, string login, string password,
        string subscription, bool copyData, CancellationToken cancellationToken)
    {
        // The same host, port and TLS settings as the leader connection.
        var conninfo = ConnInfo.Build(leaderBuilder.Host ?? "127.0.0.1", leaderBuilder.Port, leaderDatabase, login, password, subscription, leaderBuilder);
        await relay.ExecuteAsync(
            $"CREATE SUBSCRIPTION {SqlIdentifier.Quote(subscription)} CONNECTION {SqlIdentifier.Literal(conninfo)} " +
            $"PUBLICATION {SqlIdentifier.Quote(ReplicationRoles.Publication)} " +
            $"WITH (create_slot = false, slot_name = {SqlIdentifier.Literal(subscription)}, copy_data = {(copyData ? "true" : "false")}, synchronous_commit = 'local')",
            cancellationToken);
    }

    /// <summary>
    /// The checks that come before anything is made or changed, on the leader or the relay: the relay is a database
    /// of its own, and a relay inside the leader's cluster is allowed only when follower logins cannot reach the
    /// leader database or stream the cluster's WAL from there. Returns where the relay is and, for a relay on its
    /// own server whose pg_hba.conf is open, the advice to print.
    /// </summary>
    public async Task<(bool InLeaderCluster, string? HbaAdvice)> PreflightAsync(
        string leaderConnectionString, string relayAdmin, CancellationToken cancellationToken)
    {
        await using var leader = new NpgsqlConnection(leaderConnectionString);
        await leader.OpenAsync(cancellationToken);
        await using var maintenance = await OpenMaintenanceAsync(relayAdmin, cancellationToken);
        var relayDatabase = new NpgsqlConnectionStringBuilder(relayAdmin).Database
            ?? throw new PartialReplicaException("The relay connection names no database; write it as postgresql://user:password@host:port/database.");
        return await PreflightAsync(leader, maintenance, relayDatabase, cancellationToken);
    }

    private async Task<(bool InLeaderCluster, string? HbaAdvice)> PreflightAsync(
        NpgsqlConnection leader, NpgsqlConnection maintenance, string relayDatabase, CancellationToken cancellationToken)
    {
        var inLeaderCluster = await SameServerAsync(leader, maintenance, cancellationToken);
        if (inLeaderCluster && relayDatabase == leader.Database)
        {
            throw new PartialReplicaException("The relay must be a database of its own, not the leader database.");
        }

        var hba = await HbaCheck.RunAsync(maintenance, relayDatabase, cancellationToken);
        if (!hba.Confined && inLeaderCluster)
        {
            throw new PartialReplicaException(
                $"The relay {relayDatabase} would live in the leader's server, whose pg_hba.conf does not confine follower logins. {hba.Advice}" +
                Environment.NewLine + "Or give the relay a server of its own with --relay URL (env PARTIALREPLICA_RELAY).");
        }

        if (!hba.Confined)
        {
            LogMessages.RelayHbaOpen(logger, hba.Advice);
        }

        return (inLeaderCluster, hba.Confined ? null : hba.Advice);
    }

    private static async Task<NpgsqlConnection> OpenMaintenanceAsync(string relayAdmin, CancellationToken cancellationToken)
    {
        var maintenance = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(relayAdmin) { Database = "postgres", Pooling = false }.ConnectionString);
        await maintenance.OpenAsync(cancellationToken);
        return maintenance;
    }

    /// <summary>Whether two connections reach one server (its system identifier, made by initdb).</summary>
    internal static async Task<bool> SameServerAsync(NpgsqlConnection a, NpgsqlConnection b, CancellationToken cancellationToken)
    {
        const string Sql = "SELECT system_identifier::text || ':' || current_setting('port') FROM pg_control_system()";
        return await a.ScalarAsync<string>(Sql, cancellationToken) == await b.ScalarAsync<string>(Sql, cancellationToken);
    }

    // One relay serves one leader: a relay database already subscribed to another leader database is refused.
    private static async Task CheckNotRelayingAnotherAsync(
        NpgsqlConnection relay, string subscription, NpgsqlConnectionStringBuilder leader, string leaderDatabase, CancellationToken cancellationToken)
    {
        var conninfo = await relay.ScalarAsync<string>(
            "SELECT subconninfo FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            cancellationToken, subscription);
        if (conninfo is null)
        {
            return;
        }

        var database = DbName().Match(conninfo) is { Success: true } m ? m.Groups[1].Value.Trim('\'') : null;
        var port = Port().Match(conninfo) is { Success: true } p ? p.Groups[1].Value.Trim('\'') : null;
        if (database != leaderDatabase || port != leader.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new PartialReplicaException(
                $"The relay database {relay.Database} already relays another leader ({database} on port {port}); give this leader a relay of its own with --relay URL.");
        }
    }

    [GeneratedRegex(@"dbname=('(?:[^'\\]|\\.)*'|\S+)")]
    private static partial Regex DbName();

    [GeneratedRegex(@"port=('(?:[^'\\]|\\.)*'|\S+)")]
    private static partial Regex Port();
}
