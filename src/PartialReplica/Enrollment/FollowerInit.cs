using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Leader.Relay;
using PartialReplica.Leader.Setup;
using PartialReplica.Schema;

namespace PartialReplica.Enrollment;

/// <summary>
/// F2: makes a database a follower of the leader. Its subscription goes to the leader's relay (S6) with a
/// replication login of its own, made here on the relay's server. Idempotent: the host, its registration, slot,
/// login and subscription are created once; a re-run checks and leaves them.
/// </summary>
public sealed class FollowerInit(ILogger logger)
{
    /// <summary>Runs follower init.</summary>
    public async Task<FollowerInitResult> RunAsync(
        string leaderConnectionString, NpgsqlDataSource follower, FollowerInitOptions options, CancellationToken cancellationToken)
    {
        var name = FollowerName.Validate(options.Name);
        var host = ConjurId.Host(options.Account, name);

        await using var leaderConnection = new NpgsqlConnection(leaderConnectionString);
        await leaderConnection.OpenAsync(cancellationToken);
        var location = await RelayLocation.ReadAsync(leaderConnection, cancellationToken);
        await using var relay = new NpgsqlConnection(location.AdminConnectionString(leaderConnectionString, options.RelayConnectionString));
        await relay.OpenAsync(cancellationToken);

        await new MigrationRunner(logger).MigrateAsync(follower, DatabaseRole.Follower, cancellationToken);
        await using (var followerConnection = await follower.OpenConnectionAsync(cancellationToken))
        {
            // The follower gets exactly what the relay publishes: tables or columns beyond the baseline's come from a
            // leader whose schema Conjur made.
            await PublishedTableShapes.CreateMissingAsync(
                relay, followerConnection, await PublishedTableShapes.PublishedAsync(relay, cancellationToken), cancellationToken);
        }

        var (slot, apiKey) = await RegisterAsync(leaderConnection, relay, host, name, options, cancellationToken);
        // The slot comes before the login is recorded: the gateway's slot check looks only at followers with a login,
        // and must never find one whose slot is still to be made.
        await FollowerLogins.EnsureSlotAsync(relay, slot, cancellationToken);
        var login = RelayNames.FollowerLogin(relay.Database, slot);
        await leaderConnection.ExecuteAsync(
            "UPDATE partial_replica.followers SET login = $2 WHERE name = $1 AND login IS DISTINCT FROM $2", cancellationToken, name, login);

        await using (var followerConnection = await follower.OpenConnectionAsync(cancellationToken))
        {
            var subscribed = await SubscriptionState.ExistsAsync(followerConnection, slot, cancellationToken);
            if (subscribed && await FollowerLogins.ExistsAsync(relay, login, cancellationToken))
            {
                await followerConnection.ExecuteAsync($"ALTER SUBSCRIPTION {SqlIdentifier.Quote(slot)} ENABLE", cancellationToken);
            }
            else
            {
                // The password goes straight into the subscription, the only place it is kept.
                var password = await FollowerLogins.SetPasswordAsync(relay, login, logger, cancellationToken);
                // No application_name: PostgreSQL names each table copy's session after its sync slot (see ConnInfo.Build).
                var conninfo = ConnInfo.Build(
                    options.PublisherHost ?? location.Host, options.PublisherPort ?? location.Port, relay.Database, login, password, null,
                    new NpgsqlConnectionStringBuilder(location.ConnectionString));
                // Only before a first copy: an existing subscription (whose login was gone) keeps what it applied.
                if (!subscribed)
                {
                    await EmptyPublishedTablesAsync(followerConnection, relay, cancellationToken);
                }

                await SubscribeAsync(followerConnection, slot, conninfo, cancellationToken);
            }
        }

        if (options.WaitForInitialCopy is { } timeout)
        {
            await SubscriptionState.WaitUntilReadyAsync(follower, slot, timeout, cancellationToken);
        }

        LogMessages.FollowerSubscribed(logger, name, slot);
        return new FollowerInitResult(name, host.ToString(), slot, apiKey);
    }

    private async Task<(string Slot, string? ApiKey)> RegisterAsync(
        NpgsqlConnection leader, NpgsqlConnection relay, ConjurId host, string name, FollowerInitOptions options, CancellationToken cancellationToken)
    {
        await using var transaction = await leader.BeginTransactionAsync(cancellationToken);
        await leader.ExecuteAsync("LOCK TABLE partial_replica.followers IN SHARE ROW EXCLUSIVE MODE", cancellationToken);

        var admin = ConjurRecords.Admin(options.Account);
        // No policy owns a host made here, so a later `policy replace` of root does not delete a live follower.
        await ConjurRecords.EnsureRoleWithResourceAsync(leader, host, admin, null, cancellationToken);
        var apiKey = await ApiKeys.IssueIfMissingAsync(leader, host.ToString(), options.DataKey, cancellationToken);

        var slot = await leader.ScalarAsync<string>(
            "SELECT slot_name FROM partial_replica.followers WHERE name = $1", cancellationToken, name);
        if (slot is null)
        {
            // Slots live on the relay's server; names registered on this leader are taken too.
            var taken = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (connection, sql) in new[]
                     {
                         (leader, "SELECT slot_name FROM partial_replica.followers"),
                         (relay, "SELECT slot_name::text FROM pg_replication_slots"),
                     })
            {
                await using var command = ConnectionExtensions.Command(connection, sql);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    taken.Add(reader.GetString(0));
                }
            }

            slot = SlotNames.Choose(name, taken);
            await leader.ExecuteAsync(
                "INSERT INTO partial_replica.followers (name, role_id, slot_name, agent_url) VALUES ($1, $2, $3, $4)",
                cancellationToken, name, host.ToString(), slot, options.AgentUrl);
            await leader.ExecuteAsync(
                "INSERT INTO partial_replica.delivery (follower) VALUES ($1)", cancellationToken, name);
            LogMessages.FollowerRegistered(logger, name, slot);
        }
        else if (options.AgentUrl is not null)
        {
            await leader.ExecuteAsync(
                "UPDATE partial_replica.followers SET agent_url = $2 WHERE name = $1", cancellationToken, name, options.AgentUrl);
        }

        await transaction.CommitAsync(cancellationToken);
        return (slot, apiKey);
    }

    /// <summary>
    /// A database adopted as a follower may already hold rows in the published tables (a Conjur follower's database:
    /// at least Conjur's own schema_migrations). The subscription's first copy brings every row the leader has, and a
    /// row already there would stop it with a key violation, so those tables are emptied first, in one statement
    /// (Conjur's foreign keys run between them). Only when the subscription is new: it then replaces them anyway.
    /// </summary>
    private async Task EmptyPublishedTablesAsync(NpgsqlConnection follower, NpgsqlConnection relay, CancellationToken cancellationToken)
    {
        var published = await PublishedTableShapes.PublishedAsync(relay, cancellationToken);
        var holding = new List<string>();
        foreach (var (schema, table) in published)
        {
            if (await follower.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM {SqlIdentifier.Quote(schema, table)})", cancellationToken))
            {
                holding.Add($"{schema}.{table}");
            }
        }

        if (holding.Count == 0)
        {
            return;
        }

        await follower.ExecuteAsync(
            $"TRUNCATE {string.Join(", ", published.Select(t => SqlIdentifier.Quote(t.Schema, t.Table)))}", cancellationToken);
        LogMessages.FollowerTablesEmptied(logger, follower.Database, string.Join(", ", holding));
    }

    private static async Task SubscribeAsync(NpgsqlConnection follower, string slot, string conninfo, CancellationToken cancellationToken)
    {
        var name = SqlIdentifier.Quote(slot);
        if (await SubscriptionState.ExistsAsync(follower, slot, cancellationToken))
        {
            // Its login was gone (dropped by hand, or the relay rebuilt): the subscription takes the new one.
            await follower.ExecuteAsync($"ALTER SUBSCRIPTION {name} CONNECTION {SqlIdentifier.Literal(conninfo)}", cancellationToken);
            await follower.ExecuteAsync($"ALTER SUBSCRIPTION {name} ENABLE", cancellationToken);
            return;
        }

        try
        {
            await follower.ExecuteAsync(
                $"CREATE SUBSCRIPTION {name} CONNECTION {SqlIdentifier.Literal(conninfo)} " +
                $"PUBLICATION {SqlIdentifier.Quote(ReplicationRoles.Publication)} " +
                $"WITH (create_slot = false, slot_name = {SqlIdentifier.Literal(slot)}, copy_data = true)",
                cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new PartialReplicaException(
                $"The relay publishes a table the follower does not have ({e.MessageText}). Create it on the follower, then run follower init again.", e);
        }
    }
}
