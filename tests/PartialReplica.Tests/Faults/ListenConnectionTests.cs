using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// R3: notifications are only a wake-up. When the gateway's LISTEN backend is terminated, or no gateway was
/// listening when changes committed, the followers still catch up from the durable cursor within the
/// poll interval.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class ListenConnectionTests(ReplicationFixture fixture)
{
    /// <summary>Room for reading and pushing a burst on a busy machine, on top of the poll interval.</summary>
    private static readonly TimeSpan Work = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Terminated_listen_backend_is_replaced_and_changes_arrive_within_the_poll_interval()
    {
        var poll = TimeSpan.FromSeconds(4);
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var gateway = world.Track(ChildHost.Gateway(leader, "gw", new Dictionary<string, string> { ["PollInterval"] = poll.ToString() }));
        await gateway.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        int? listener = null;
        await Eventually.HoldsAsync(async () => (listener = await world.ListenBackendAsync()) is not null, "the gateway LISTENs on the leader");
        Assert.True(await Db.ScalarAsync<bool>(leader, "SELECT pg_terminate_backend($1)", listener!.Value));

        // Changes committed right after the kill, possibly before the gateway listens again.
        var burst = world.StartWriting(writers: 2, seed: 4);
        await burst.ReachedAsync(50, "after the LISTEN backend was terminated");
        await burst.StopAsync();
        await world.AwaitExactAsync(FaultWorld.East, poll + Work);
        await world.AwaitExactAsync(FaultWorld.West, poll + Work);

        // The gateway listens again on a new backend, and a wake-up beats the poll by far again.
        await Eventually.HoldsAsync(async () => await world.ListenBackendAsync() is { } pid && pid != listener, "the gateway LISTENs again");
        await world.SetSecretAsync(FaultWorld.Billing[0], [1, 2, 3]);
        var woken = await world.AwaitExactAsync(FaultWorld.West, poll + Work);
        Assert.True(woken < poll / 2, $"a change took {woken.TotalMilliseconds:0} ms after LISTEN came back; the notification did not wake the gateway");
        await world.AwaitExactAsync(FaultWorld.East, poll + Work);
    }

    [Fact]
    public async Task Gateway_started_after_changes_catches_up_from_the_durable_cursor()
    {
        var poll = TimeSpan.FromSeconds(1);
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var first = world.Track(ChildHost.Gateway(leader, "gw-first", new Dictionary<string, string> { ["PollInterval"] = poll.ToString() }));
        await first.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), first.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), first.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.delivery WHERE needs_reconcile") == 0, "both followers' first full reconcile is recorded");
        await first.KillAsync();

        // Nobody listens: these commits' notifications are lost for good; only the outbox remembers them.
        var burst = world.StartWriting(writers: 2, seed: 5);
        await burst.ReachedAsync(150, "with no gateway running");
        await burst.StopAsync();

        // gw-first's followers stay its own until its lease runs out (issue 26); the catch-up is timed from after that.
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.gateways WHERE lease_until > clock_timestamp()") == 0, "gw-first's lease runs out", TimeSpan.FromSeconds(10));
        var second = world.Track(ChildHost.Gateway(leader, "gw-second", new Dictionary<string, string> { ["PollInterval"] = poll.ToString() }, first.Port));
        await second.StartAsync();
        await world.AwaitExactAsync(FaultWorld.East, poll + Work);
        await world.AwaitExactAsync(FaultWorld.West, poll + Work);

        // Caught up from the cursor: no full reconcile was owed or done.
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.delivery WHERE needs_reconcile"));
    }
}
