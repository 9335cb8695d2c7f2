using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Setup;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// One replication login per follower on the relay's server (S6): REPLICATION, the reader's SELECTs on the relay's
/// published tables, and membership in the groups pg_hba.conf confines to the relay database. Its password is made
/// here, handed to the follower's subscription and kept nowhere else; rotation makes a new one.
/// </summary>
internal static class FollowerLogins
{
    /// <summary>Creates the login, or gives it a fresh password; returns the password (held only by the caller).</summary>
    public static async Task<string> SetPasswordAsync(
        NpgsqlConnection relay, string login, ILogger logger, CancellationToken cancellationToken)
    {
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var quoted = SqlIdentifier.Quote(login);
        var exists = await ExistsAsync(relay, login, cancellationToken);
        if (!exists)
        {
            try
            {
                await relay.ExecuteAsync($"CREATE ROLE {quoted} LOGIN REPLICATION", cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateObject or PostgresErrorCodes.UniqueViolation)
            {
                // A concurrent init of the same follower made it first; the password below is the one that counts.
            }
        }

        await relay.ExecuteAsync($"ALTER ROLE {quoted} WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {SqlIdentifier.Literal(password)}", cancellationToken);
        var groups = string.Join(", ", new[] { ReplicationRoles.Reader, RelayNames.FollowerLogins, RelayNames.DatabaseGroup(relay.Database) }.Select(SqlIdentifier.Quote));
        await relay.ExecuteAsync($"GRANT {groups} TO {quoted}", cancellationToken);
        LogMessages.FollowerLoginChanged(logger, login, exists ? "password rotated" : "created");
        return password;
    }

    /// <summary>Whether the login exists on the relay's server.</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection relay, string login, CancellationToken cancellationToken) =>
        await relay.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", cancellationToken, login);

    /// <summary>Makes the follower's logical slot on the relay unless it exists; returns whether it was made now.</summary>
    public static async Task<bool> EnsureSlotAsync(NpgsqlConnection relay, string slot, CancellationToken cancellationToken)
    {
        var database = await relay.ScalarAsync<string>(
            "SELECT database FROM pg_replication_slots WHERE slot_name = $1", cancellationToken, slot);
        if (database is null)
        {
            try
            {
                // Made by the relay's admin, not by CREATE SUBSCRIPTION, so relay and follower may even share a server.
                await relay.ExecuteAsync("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", cancellationToken, slot);
                return true;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
            {
                return false;
            }
        }

        if (database != relay.Database)
        {
            throw new PartialReplicaException(
                $"Replication slot {slot} already exists for database {database} on the relay's server; drop it or choose another follower name.");
        }

        return false;
    }

    /// <summary>Drops the follower's slot and login from the relay's server (its walsender is ended first).</summary>
    public static async Task DropAsync(NpgsqlConnection relay, string slot, string? login, ILogger logger, CancellationToken cancellationToken)
    {
        // A slot in use cannot be dropped: its walsender is ended, and the drop tried again once it is gone.
        for (var attempt = 0; await DropSlotOnceAsync(relay, slot, cancellationToken) && attempt < 100; attempt++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        if (login is not null && await ExistsAsync(relay, login, cancellationToken))
        {
            // Its walsenders go first: a dropped role's open sessions would keep streaming.
            await relay.ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", cancellationToken, login);
            await relay.ExecuteAsync($"DROP ROLE {SqlIdentifier.Quote(login)}", cancellationToken);
            LogMessages.FollowerLoginChanged(logger, login, "dropped");
        }
    }

    // Whether the slot was still in use (its walsender now told to end); an unused slot is dropped.
    private static async Task<bool> DropSlotOnceAsync(NpgsqlConnection relay, string slot, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(relay, """
            SELECT count(pg_terminate_backend(active_pid)) FILTER (WHERE active_pid IS NOT NULL) > 0,
                   count(pg_drop_replication_slot(slot_name)) FILTER (WHERE active_pid IS NULL)
              FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()
            """, slot);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetBoolean(0);
    }
}
