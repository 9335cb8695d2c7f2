using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>R1: the gateway process is SIGKILLed in the middle of a burst of secret writes and restarted.</summary>
[Collection(FaultsCollection.Name)]
public sealed class GatewayCrashTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Gateway_killed_mid_burst_and_restarted_leaves_every_follower_exact()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var first = world.Track(ChildHost.Gateway(leader, "gw-first"));
        await first.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), first.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), first.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        var batchesBefore = (await world.ApplyLogAsync(FaultWorld.East)).Count;

        var burst = world.StartWriting(writers: 2, seed: 1);
        await burst.ReachedAsync(100, "before the kill");
        await Eventually.HoldsAsync(async () => (await world.ApplyLogAsync(FaultWorld.East)).Count > batchesBefore,
            "the first gateway pushed part of the burst");
        await first.KillAsync();
        var writesAtKill = burst.Writes;

        // Writes go on while no gateway runs; then a new gateway (same address, so the agents' JWKS URL holds).
        await burst.ReachedAsync(writesAtKill + 100, "while the gateway is dead");
        var second = world.Track(ChildHost.Gateway(leader, "gw-second", port: first.Port));
        await second.StartAsync();
        await burst.ReachedAsync(burst.Writes + 100, "after the restart");
        await burst.StopAsync();

        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            var gateways = (await world.ApplyLogAsync(follower)).Select(b => b.Gateway).Distinct().Order().ToList();
            Assert.Equal(["gw-first", "gw-second"], gateways);
        }
    }
}
