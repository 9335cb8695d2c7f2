using System.Security.Cryptography;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Tooling.Clusters;

/// <summary>Creating and dropping uniquely named databases, shared by every kind of server.</summary>
internal static class ServerDatabases
{
    public static async Task<string> CreateAsync(string adminConnectionString, string prefix, CancellationToken cancellationToken)
    {
        var name = $"{prefix}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"CREATE DATABASE {SqlIdentifier.Quote(name)}", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return name;
    }

    public static async Task DropAsync(string adminConnectionString, string database, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = database, Pooling = false };
        try
        {
            // A subscription owns a slot on its publisher; drop it properly where the publisher answers,
            // and detach it where it does not, so the database can go.
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            var subscriptions = new List<string>();
            await using (var list = new NpgsqlCommand(
                "SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                connection))
            await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    subscriptions.Add(reader.GetString(0));
                }
            }

            foreach (var subscription in subscriptions)
            {
                var quoted = SqlIdentifier.Quote(subscription);
                await using var disable = new NpgsqlCommand($"ALTER SUBSCRIPTION {quoted} DISABLE", connection);
                await disable.ExecuteNonQueryAsync(cancellationToken);
                await using var detach = new NpgsqlCommand($"ALTER SUBSCRIPTION {quoted} SET (slot_name = NONE)", connection);
                await detach.ExecuteNonQueryAsync(cancellationToken);
                await using var drop = new NpgsqlCommand($"DROP SUBSCRIPTION {quoted}", connection);
                await drop.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync(cancellationToken);

        // A leader database cannot be dropped while logical slots live in it: end their senders, drop them.
        for (var attempt = 0; ; attempt++)
        {
            await using var dropSlots = new NpgsqlCommand("""
                SELECT count(pg_terminate_backend(active_pid)) FILTER (WHERE active_pid IS NOT NULL),
                       count(pg_drop_replication_slot(slot_name)) FILTER (WHERE active_pid IS NULL)
                  FROM pg_replication_slots WHERE database = $1
                """, admin);
            dropSlots.Parameters.Add(new NpgsqlParameter { Value = database });
            await using var reader = await dropSlots.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.GetInt64(0) == 0 || attempt >= 50)
            {
                break;
            }

            await reader.CloseAsync();
            await Task.Delay(100, cancellationToken);
        }

        await using var dropDatabase = new NpgsqlCommand(
            $"DROP DATABASE IF EXISTS {SqlIdentifier.Quote(database)} WITH (FORCE)", admin);
        await dropDatabase.ExecuteNonQueryAsync(cancellationToken);
    }
}
