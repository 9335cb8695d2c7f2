using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Npgsql.Replication;
using PartialReplica.Leader.Relay;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.SideChannels;

/// <summary>
/// A new follower's subscription copies each table through a table sync slot of its own. PostgreSQL holds that slot
/// only while it makes it and while it streams, not during the COPY between, which takes minutes on a leader of a
/// million resources. The gateway's slot check drops a sync slot left unused (a subscription dropped mid-copy); it
/// must not take a long copy for one: the table's sync would then fail for ever ("replication slot … does not exist"),
/// as it did in a full-size P8 run.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class TableSyncSlotTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";

    private const string SyncSlots = """
        SELECT slot_name::text FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE 'pg\_%\_sync\_%' ORDER BY 1
        """;

    [Fact]
    public async Task A_sync_slot_is_kept_while_its_walsender_copies_and_dropped_once_abandoned()
    {
        // No gateway: the test runs the slot check itself, on a clock of its own.
        await using var world = await TestWorld.On(fixture).DemoPolicy().FollowerWithoutAgent(East, 0, "http://127.0.0.1:9").StartAsync();
        var relayAdmin = new NpgsqlConnectionStringBuilder(world.Leader) { Database = world.Setup.Relay!.Location.Database }.ConnectionString;

        // Follower init leaves the names of the subscription's sessions to PostgreSQL: its apply worker's is the
        // subscription's (= its slot's), and each table copy's is its sync slot's.
        var east = world.FollowerInit(East).SlotName;
        Assert.DoesNotContain("application_name", await Db.ScalarAsync<string>(world.FollowerDb(East),
            "SELECT subconninfo FROM pg_subscription WHERE subname = $1", east), StringComparison.Ordinal);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(relayAdmin,
            "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1 AND r.application_name = $1",
            east) == 1, "east-1's walsender is named after its slot");

        // What a table sync worker leaves while it copies: its slot, made on its replication connection and unused
        // since, and that connection's session named after the slot (PostgreSQL's tablesync passes the slot name as
        // application_name). A real copy of the demo's tables is over in milliseconds; this one stays open.
        var systemId = await Db.ScalarAsync<long>(relayAdmin, "SELECT system_identifier FROM pg_control_system()");
        var slot = $"pg_1_sync_2_{systemId}";
        var copying = new LogicalReplicationConnection(new NpgsqlConnectionStringBuilder(relayAdmin) { ApplicationName = slot }.ConnectionString);
        await using (copying)
        {
            await copying.Open();
            await copying.CreatePgOutputReplicationSlot(slot, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.NoExport);
            Assert.False(await Db.ScalarAsync<bool>(relayAdmin, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot));

            await CheckTwiceAsync(world, relayAdmin);
            Assert.Equal([slot], await Db.ColumnAsync(relayAdmin, SyncSlots));
        }

        // Its session gone, the slot is abandoned (a subscription dropped mid-copy) and holds WAL for nothing.
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(relayAdmin,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", slot) == 0, "the copying session is gone");
        await CheckTwiceAsync(world, relayAdmin);
        Assert.Empty(await Db.ColumnAsync(relayAdmin, SyncSlots));
    }

    /// <summary>Two slot checks, the second past the healer's limit for an unused slot.</summary>
    private static async Task CheckTwiceAsync(TestWorld world, string relayAdmin)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var healer = new SlotHealer(NullLogger.Instance, clock) { InactiveAfter = TimeSpan.FromSeconds(1) };
        await using var leader = await world.LeaderSource.OpenConnectionAsync();
        await using var relay = new NpgsqlConnection(relayAdmin);
        await relay.OpenAsync();
        await healer.CheckAsync(leader, relay, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(5));
        await healer.CheckAsync(leader, relay, CancellationToken.None);
    }

    /// <summary>A clock the test moves.</summary>
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
