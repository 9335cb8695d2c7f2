using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>The leader restarts (pg_ctl restart) under load: the gateway reconnects everything and the end state is exact.</summary>
[Collection(FaultsCollection.Name)]
public sealed class LeaderRestartTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Gateway_reconnects_after_leader_restart_under_load_and_followers_end_exact()
    {
        var server = await fixture.StartClusterAsync("leader-restart");
        var leader = await ReplicationFixture.CreateLeaderOnAsync(server);
        await using var world = await FaultWorld.CreateAsync(fixture, leader);
        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        var listener = await world.ListenBackendAsync();
        Assert.NotNull(listener);

        var burst = world.StartWriting(writers: 2, seed: 7);
        await burst.ReachedAsync(100, "before the restart");
        await server.RestartAsync(CancellationToken.None);
        await burst.ReachedAsync(burst.Writes + 100, "after the restart");
        await burst.StopAsync();

        Assert.True(burst.Failures > 0, "the restart interrupted the writers");
        Assert.True(gateway.IsRunning, $"the gateway survived the leader restart:{Environment.NewLine}{gateway.OutputTail}");
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        await Eventually.HoldsAsync(async () => await world.ListenBackendAsync() is not null, "the gateway LISTENs on the restarted leader");

        // And the reconnected gateway keeps delivering.
        await world.SetSecretAsync(FaultWorld.Inventory[0], [9, 9, 9]);
        await world.AwaitExactAsync(FaultWorld.East);
    }
}
