using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.SideChannels;

/// <summary>
/// S6: any replication login on the relay can drop any slot there. A follower that drops another's slot breaks it
/// only until the gateway's next check: the slot is recreated, the victim's agent re-subscribes and copies the
/// tables anew (what the lost slot held included), and the follower's row says what happened and when.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class SlotHealingTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string Granted = "default:variable:apps/inventory/db/password";

    [Fact]
    public async Task A_slot_dropped_by_another_follower_heals_and_the_victim_converges_without_an_operator()
    {
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Secret(Granted, "inventory password")
            .Gateway(new Dictionary<string, string?> { ["Gateway:SubscriptionCheckInterval"] = "00:00:00.200" })
            .Follower(East, 0)
            .Follower(West, 1)
            .StartAsync();
        var leader = world.Leader;
        var relayAdmin = new NpgsqlConnectionStringBuilder(leader) { Database = world.Setup.Relay!.Location.Database }.ConnectionString;
        var value = (await Db.ScalarAsync<byte[]>(leader, "SELECT value FROM secrets WHERE resource_id = $1", Granted))!;
        var (east, eastSlot) = (world.FollowerDb(East), world.FollowerInit(East).SlotName);
        var (west, westSlot) = (world.FollowerDb(West), world.FollowerInit(West).SlotName);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<byte[]>(east, "SELECT value FROM secrets WHERE resource_id = $1", Granted) is { } held
            && held.SequenceEqual(value), "east-1 holds its granted secret");

        // The victim's server is away for a moment (its walsender gone, so its slot is unused) ...
        await Db.ExecuteAsync(east, $"ALTER SUBSCRIPTION \"{eastSlot}\" DISABLE");
        await Eventually.HoldsAsync(async () => !await Db.ScalarAsync<bool>(relayAdmin,
            "SELECT active FROM pg_replication_slots WHERE slot_name = $1", eastSlot), "east-1's slot is unused");

        // ... and west-1's operator, with the login west-1's own subscription holds, drops east-1's slot.
        var attacker = await FollowerLogin.FromSubscriptionAsync(west, westSlot);
        await Db.ExecuteAsync(attacker.ConnectionString, "SELECT pg_drop_replication_slot($1)", eastSlot);
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:while-the-slot-was-gone')");
        await Db.ExecuteAsync(east, $"ALTER SUBSCRIPTION \"{eastSlot}\" ENABLE");

        // The gateway recreates the slot and the agent copies anew: east-1 holds every role the leader holds,
        // the one written while its slot was gone included.
        const string roles = "SELECT role_id FROM roles ORDER BY role_id COLLATE \"C\"";
        await Eventually.HoldsAsync(async () =>
            (await Db.ColumnAsync(east, roles)).SequenceEqual(await Db.ColumnAsync(leader, roles))
            && (await Db.ColumnAsync(east, roles)).Contains("default:user:while-the-slot-was-gone"),
            "east-1 holds exactly the leader's roles again", TimeSpan.FromSeconds(60));
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:after-the-heal')");
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(east,
            "SELECT count(*) FROM roles WHERE role_id = 'default:user:after-the-heal'") == 1, "east-1 streams again");

        var @event = await Db.ScalarAsync<string>(leader,
            "SELECT subscription_event FROM partial_replica.followers WHERE name = $1 AND subscription_event_at IS NOT NULL", East);
        Assert.StartsWith("agent re-subscribed", @event, StringComparison.Ordinal);
        Assert.Null(await Db.ScalarAsync<string>(leader, "SELECT subscription_event FROM partial_replica.followers WHERE name = $1", West));
        // Its secrets were never the subscription's: they stay exact.
        Assert.Equal(value, await Db.ScalarAsync<byte[]>(east, "SELECT value FROM secrets WHERE resource_id = $1", Granted));
    }
}
