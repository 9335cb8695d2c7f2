using System.Diagnostics;
using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Push;

/// <summary>
/// What a wake-up makes a gateway's workers do. A secret write's notification (empty payload) has them read the
/// outbox; only an operator's wake-up (<see cref="ChangeNotifier.RecheckPayload"/>) also has them re-read their
/// delivery rows, since a reconcile may have been ordered. Otherwise a worker re-reads (and, when its cursor
/// moved, rewrites) its delivery row about once a second, not once per notified commit.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DeliveryRecheckTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Notified_secret_writes_do_not_rewrite_delivery_rows_and_a_reconcile_ordered_with_an_operators_wake_up_is_done()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;

        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "recheck"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.delivery WHERE needs_reconcile") == 0, "the follower's first full reconcile is recorded");

        await Db.ExecuteAsync(leader, """
            CREATE TABLE delivery_writes (at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE FUNCTION record_delivery_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO delivery_writes DEFAULT VALUES; RETURN NULL; END $$;
            CREATE TRIGGER record_delivery_write AFTER UPDATE ON partial_replica.delivery
                FOR EACH ROW EXECUTE FUNCTION record_delivery_write();
            """);

        // Forty notified commits of a variable no follower holds, twenty a second (the gateway stays idle, so each
        // one is notified): the worker reads each, and its cursor moves every time.
        await using var notifications = await ChangeNotifications.ListenAsync(leader);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 40; i++)
        {
            await world.SetSecretAsync(FaultWorld.Hidden[0], [(byte)i]);
            await Task.Delay(50);
        }

        var elapsed = clock.Elapsed;
        Assert.Equal(40, await notifications.CountAsync());
        var writes = await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM delivery_writes");
        Assert.True(writes <= (long)elapsed.TotalSeconds + 2, $"{writes} delivery row writes in {elapsed.TotalSeconds:0.0} s of 40 notified commits");

        // A reconcile ordered with an operator's wake-up is done.
        await using (var connection = new NpgsqlConnection(leader))
        {
            await connection.OpenAsync();
            await ChangeNotifier.RequeueFollowerAsync(connection, FaultWorld.East, CancellationToken.None);
        }

        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.delivery WHERE needs_reconcile") == 0, "the ordered reconcile is done");
        await world.AwaitExactAsync(FaultWorld.East);
    }
}
