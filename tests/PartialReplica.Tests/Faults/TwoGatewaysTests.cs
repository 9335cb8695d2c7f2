using System.Diagnostics;
using PartialReplica.Leader.Gateways;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// R5 with issue 26: two gateway processes against one leader split the followers (rendezvous over the live ids:
/// east-1 goes to gw-a, west-1 to gw-b). When gw-b joins, gw-a hands west-1 over after its push in flight; when gw-a
/// is SIGKILLed, gw-b takes east-1 once gw-a's lease has run out. The agents' apply logs show that two gateways never
/// push to one follower at the same time, and that each handover happened once.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class TwoGatewaysTests(ReplicationFixture fixture)
{
    // Lease (6 s) plus one renew interval (2 s) of the survivor, and some room for the loaded test machine.
    private static readonly TimeSpan Takeover = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Two_gateways_split_the_followers_and_the_survivor_takes_over_the_killed_ones_share()
    {
        // The split this test relies on, from the pure function.
        Assert.Equal("gw-a", Rendezvous.Owner(FaultWorld.East, ["gw-a", "gw-b"]));
        Assert.Equal("gw-b", Rendezvous.Owner(FaultWorld.West, ["gw-a", "gw-b"]));

        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var a = world.Track(ChildHost.Gateway(leader, "gw-a"));
        await a.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), a.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), a.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        // Alone, gw-a serves both; gw-b joins amid a burst and takes west-1, east-1 stays.
        Assert.All(await world.ApplyLogAsync(FaultWorld.West), batch => Assert.Equal("gw-a", batch.Gateway));
        var burst = world.StartWriting(writers: 2, seed: 6);
        await burst.ReachedAsync(50, "before gw-b starts");
        var b = world.Track(ChildHost.Gateway(leader, "gw-b"));
        await b.StartAsync();
        await Eventually.HoldsAsync(async () =>
        {
            var served = await world.ServedByAsync();
            return served[FaultWorld.East] == "gw-a" && served[FaultWorld.West] == "gw-b";
        }, "gw-b serves west-1, gw-a east-1");
        await burst.ReachedAsync(burst.Writes + 100, "with both gateways up");
        var before = (await world.ApplyLogAsync(FaultWorld.East)).Count;
        await Eventually.HoldsAsync(async () =>
            (await world.ApplyLogAsync(FaultWorld.East)).Count > before &&
            (await world.ApplyLogAsync(FaultWorld.West)).Any(batch => batch.Gateway == "gw-b"), "both gateways push the burst");
        Assert.DoesNotContain(await world.ApplyLogAsync(FaultWorld.East), batch => batch.Gateway == "gw-b");

        await a.KillAsync();
        var killedAt = Stopwatch.StartNew();
        await Eventually.HoldsAsync(async () => (await world.ApplyLogAsync(FaultWorld.East)).Any(batch => batch.Gateway == "gw-b"),
            "gw-b pushes to east-1 after gw-a died", Takeover);

        var takeover = killedAt.Elapsed;
        await burst.ReachedAsync(burst.Writes + 100, "after the takeover");
        await burst.StopAsync();
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        Assert.True(takeover < Takeover, $"takeover took {takeover.TotalMilliseconds:0} ms");

        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            var log = await world.ApplyLogAsync(follower);
            var overlaps = FaultWorld.Overlaps(log);
            Assert.True(overlaps.Count == 0, $"{follower} received pushes from two gateways at once: {string.Join("; ", overlaps)}");

            // Once gw-b pushed, gw-a never did again: the handover (at gw-b's join for west-1, at gw-a's death for
            // east-1) happened once.
            var firstB = log.FindIndex(batch => batch.Gateway == "gw-b");
            Assert.True(firstB > 0, $"{follower}: gw-a pushed first, then gw-b");
            Assert.DoesNotContain(log.Skip(firstB), batch => batch.Gateway == "gw-a");
        }
    }
}
