using Npgsql;
using PartialReplica.Configuration;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// Where the relay database is, as <c>setup</c> recorded it on the leader (<c>partial_replica.settings</c>, name
/// <c>relay</c>): host, port, database, user and TLS settings, never a password. Processes that administer the relay
/// (follower init, credential rotation, the gateway's slot healing, status) connect with the password given by
/// <c>PARTIALREPLICA_RELAY</c> when set, else with the leader's own credentials.
/// </summary>
public sealed record RelayLocation(string ConnectionString)
{
    private const string Setting = "relay";

    /// <summary>The relay database's name.</summary>
    public string Database => new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

    /// <summary>The relay's host as this process reaches it.</summary>
    public string Host => new NpgsqlConnectionStringBuilder(ConnectionString).Host ?? "127.0.0.1";

    /// <summary>The relay's port.</summary>
    public int Port => new NpgsqlConnectionStringBuilder(ConnectionString).Port;

    /// <summary>The location of a relay given as an admin connection string, with any password removed.</summary>
    public static RelayLocation FromAdminConnection(string adminConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Password = null, Passfile = null };
        return new RelayLocation(builder.ConnectionString);
    }

    /// <summary>The relay's location recorded on the leader; a clear error when setup made none.</summary>
    public static async Task<RelayLocation> ReadAsync(NpgsqlConnection leader, CancellationToken cancellationToken)
    {
        string? value;
        try
        {
            value = await leader.ScalarAsync<string>(
                "SELECT value FROM partial_replica.settings WHERE name = $1", cancellationToken, Setting);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new PartialReplicaException(
                $"The leader database {leader.Database} has not been set up for partial replication. Run 'partial-replica setup' against it first.", e);
        }

        return value is null
            ? throw new PartialReplicaException(
                $"The leader database {leader.Database} has no relay for followers. Run 'partial-replica setup' against it (with --relay URL for a relay on its own server).")
            : new RelayLocation(value);
    }

    /// <summary>The relay's location recorded on the leader, or null when none is (the leader set up without one).</summary>
    public static async Task<RelayLocation?> TryReadAsync(NpgsqlConnection leader, CancellationToken cancellationToken)
    {
        var value = await leader.ScalarAsync<string>(
            "SELECT value FROM partial_replica.settings WHERE name = $1", cancellationToken, Setting);
        return value is null ? null : new RelayLocation(value);
    }

    /// <summary>Records the relay's location on the leader (inside setup's transaction).</summary>
    public async Task WriteAsync(NpgsqlConnection leader, CancellationToken cancellationToken) =>
        await leader.ExecuteAsync("""
            INSERT INTO partial_replica.settings (name, value) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value
            """, cancellationToken, Setting, ConnectionString);

    /// <summary>
    /// An admin connection string for the relay: <paramref name="relayOverride"/> (<c>PARTIALREPLICA_RELAY</c>) when
    /// given, else the recorded location with the leader's credentials.
    /// </summary>
    public string AdminConnectionString(string leaderConnectionString, string? relayOverride)
    {
        if (!string.IsNullOrWhiteSpace(relayOverride))
        {
            return ConnectionStrings.Normalize(relayOverride, "relay");
        }

        var leader = new NpgsqlConnectionStringBuilder(leaderConnectionString);
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        if (string.IsNullOrEmpty(builder.Username) || builder.Username == leader.Username)
        {
            builder.Username = leader.Username;
            builder.Password = leader.Password;
            builder.Passfile = leader.Passfile;
        }

        return builder.ConnectionString;
    }
}
