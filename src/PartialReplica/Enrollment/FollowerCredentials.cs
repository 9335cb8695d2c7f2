using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Leader.Relay;
using PartialReplica.Schema;

namespace PartialReplica.Enrollment;

/// <summary>
/// <c>follower rotate-credentials</c> and <c>follower remove</c> (S6): a follower's replication login on the relay
/// gets a new password that goes straight into its subscription, or goes away with the follower.
/// </summary>
public sealed class FollowerCredentials(ILogger logger)
{
    /// <summary>Gives the follower's login a new password and its subscription the new connection.</summary>
    public async Task RotateAsync(
        string leaderConnectionString, NpgsqlDataSource follower, string name, string? relayOverride, CancellationToken cancellationToken)
    {
        var (slot, login, relayAdmin) = await ReadAsync(leaderConnectionString, name, relayOverride, cancellationToken);
        await using var followerConnection = await follower.OpenConnectionAsync(cancellationToken);
        var conninfo = await followerConnection.ScalarAsync<string>(
            "SELECT subconninfo FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            cancellationToken, slot)
            ?? throw new PartialReplicaException($"The follower database {followerConnection.Database} has no subscription {slot}; run 'partial-replica follower init --name {name}' against it.");

        await using var relay = new NpgsqlConnection(relayAdmin);
        await relay.OpenAsync(cancellationToken);
        var password = await FollowerLogins.SetPasswordAsync(relay, login, logger, cancellationToken);
        var rotated = ConnInfo.WithPassword(conninfo, password);

        // The apply worker restarts with the new connection; a session already streaming is ended so the old
        // password stops mattering at once.
        await followerConnection.ExecuteAsync(
            $"ALTER SUBSCRIPTION {SqlIdentifier.Quote(slot)} CONNECTION {SqlIdentifier.Literal(rotated)}", cancellationToken);
    }

    /// <summary>
    /// Removes the follower: its subscription (when its database is given), its slot and login on the relay, and its
    /// registration on the leader (its host role stays, as policy may own it).
    /// </summary>
    public async Task RemoveAsync(
        string leaderConnectionString, NpgsqlDataSource? follower, string name, string? relayOverride, CancellationToken cancellationToken)
    {
        var (slot, login, relayAdmin) = await ReadAsync(leaderConnectionString, name, relayOverride, cancellationToken);
        if (follower is not null)
        {
            await using var followerConnection = await follower.OpenConnectionAsync(cancellationToken);
            if (await SubscriptionState.ExistsAsync(followerConnection, slot, cancellationToken))
            {
                var quoted = SqlIdentifier.Quote(slot);
                await followerConnection.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} DISABLE", cancellationToken);
                await followerConnection.ExecuteAsync($"ALTER SUBSCRIPTION {quoted} SET (slot_name = NONE)", cancellationToken);
                await followerConnection.ExecuteAsync($"DROP SUBSCRIPTION {quoted}", cancellationToken);
            }
        }

        await using (var relay = new NpgsqlConnection(relayAdmin))
        {
            await relay.OpenAsync(cancellationToken);
            await FollowerLogins.DropAsync(relay, slot, login, logger, cancellationToken);
        }

        await using var leader = new NpgsqlConnection(leaderConnectionString);
        await leader.OpenAsync(cancellationToken);
        await leader.ExecuteAsync("DELETE FROM partial_replica.followers WHERE name = $1", cancellationToken, name);
    }

    private static async Task<(string Slot, string Login, string RelayAdmin)> ReadAsync(
        string leaderConnectionString, string name, string? relayOverride, CancellationToken cancellationToken)
    {
        await using var leader = new NpgsqlConnection(leaderConnectionString);
        await leader.OpenAsync(cancellationToken);
        var location = await RelayLocation.ReadAsync(leader, cancellationToken);
        await using var command = ConnectionExtensions.Command(leader,
            "SELECT slot_name, login FROM partial_replica.followers WHERE name = $1", FollowerName.Validate(name));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new PartialReplicaException($"No follower named {name} is registered on the leader.");
        }

        var slot = reader.GetString(0);
        var login = reader.IsDBNull(1) ? RelayNames.FollowerLogin(location.Database, slot) : reader.GetString(1);
        return (slot, login, location.AdminConnectionString(leaderConnectionString, relayOverride));
    }
}
