using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Schema;
using PartialReplica.Setup;

namespace PartialReplica.Followers;

/// <summary>
/// F2: makes a database a follower of the leader. Idempotent: the host, its registration, slot and
/// subscription are created once; a re-run checks and leaves them.
/// </summary>
public sealed class FollowerInit(ILogger logger)
{
    /// <summary>Runs follower init.</summary>
    public async Task<FollowerInitResult> RunAsync(
        NpgsqlDataSource leader, NpgsqlDataSource follower, FollowerInitOptions options, CancellationToken cancellationToken)
    {
        var name = FollowerName.Validate(options.Name);
        var host = ConjurId.Host(options.Account, name);

        await using var leaderConnection = await leader.OpenConnectionAsync(cancellationToken);
        var subscriberPassword = await LeaderSetup.ReadSubscriberPasswordAsync(leaderConnection, cancellationToken);

        await new MigrationRunner(logger).MigrateAsync(follower, DatabaseRole.Follower, cancellationToken);

        var (slot, apiKey) = await RegisterAsync(leaderConnection, host, name, options, cancellationToken);
        await EnsureSlotAsync(leaderConnection, slot, cancellationToken);

        var leaderBuilder = new NpgsqlConnectionStringBuilder(leader.ConnectionString);
        var conninfo = string.Join(' ',
            $"host={ConnInfoValue(options.PublisherHost ?? leaderBuilder.Host ?? "127.0.0.1")}",
            $"port={options.PublisherPort ?? leaderBuilder.Port}",
            $"dbname={ConnInfoValue(leaderConnection.Database)}",
            $"user={ReplicationRoles.Subscriber}",
            $"password={ConnInfoValue(subscriberPassword)}",
            "application_name=" + ConnInfoValue(slot));
        await SubscribeAsync(follower, slot, conninfo, cancellationToken);
        if (options.WaitForInitialCopy is { } timeout)
        {
            await SubscriptionState.WaitUntilReadyAsync(follower, slot, timeout, cancellationToken);
        }

        LogMessages.FollowerSubscribed(logger, name, slot);
        return new FollowerInitResult(name, host.ToString(), slot, apiKey);
    }

    private async Task<(string Slot, string? ApiKey)> RegisterAsync(
        NpgsqlConnection leader, ConjurId host, string name, FollowerInitOptions options, CancellationToken cancellationToken)
    {
        await using var transaction = await leader.BeginTransactionAsync(cancellationToken);
        await leader.ExecuteAsync("LOCK TABLE partial_replica.followers IN SHARE ROW EXCLUSIVE MODE", cancellationToken);

        var admin = ConjurRecords.Admin(options.Account);
        // No policy owns a host made here, so a later `policy replace` of root does not delete a live follower.
        await ConjurRecords.EnsureRoleWithResourceAsync(leader, host, admin, null, cancellationToken);
        var apiKey = await ApiKeys.IssueIfMissingAsync(leader, host.ToString(), cancellationToken);

        var slot = await leader.ScalarAsync<string>(
            "SELECT slot_name FROM partial_replica.followers WHERE name = $1", cancellationToken, name);
        if (slot is null)
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = ConnectionExtensions.Command(leader,
                "SELECT slot_name FROM partial_replica.followers UNION SELECT slot_name::text FROM pg_replication_slots"))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
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
    /// The slot is made on the leader before the subscription (which then uses create_slot = false), so
    /// leader and follower may even be databases of one server, where CREATE SUBSCRIPTION would otherwise hang.
    /// </summary>
    private static async Task EnsureSlotAsync(NpgsqlConnection leader, string slot, CancellationToken cancellationToken)
    {
        var database = await leader.ScalarAsync<string>(
            "SELECT database FROM pg_replication_slots WHERE slot_name = $1", cancellationToken, slot);
        if (database is null)
        {
            try
            {
                await leader.ExecuteAsync("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", cancellationToken, slot);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
            {
                // A concurrent init of the same follower made it first.
            }
        }
        else if (database != leader.Database)
        {
            throw new PartialReplicaException(
                $"Replication slot {slot} already exists for database {database} on this server; drop it or choose another follower name.");
        }
    }

    private static async Task SubscribeAsync(NpgsqlDataSource follower, string slot, string conninfo, CancellationToken cancellationToken)
    {
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        var exists = await connection.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            cancellationToken, slot);
        var name = SqlIdentifier.Quote(slot);
        if (exists)
        {
            await connection.ExecuteAsync($"ALTER SUBSCRIPTION {name} ENABLE", cancellationToken);
            return;
        }

        try
        {
            await connection.ExecuteAsync(
                $"CREATE SUBSCRIPTION {name} CONNECTION {SqlIdentifier.Literal(conninfo)} " +
                $"PUBLICATION {SqlIdentifier.Quote(ReplicationRoles.Publication)} " +
                $"WITH (create_slot = false, slot_name = {SqlIdentifier.Literal(slot)}, copy_data = true)",
                cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new PartialReplicaException(
                $"The leader publishes a table the follower does not have ({e.MessageText}). Create it on the follower, then run follower init again.", e);
        }
    }

    private static string ConnInfoValue(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
