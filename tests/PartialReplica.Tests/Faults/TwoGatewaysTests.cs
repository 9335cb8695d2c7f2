using System.Diagnostics;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// R5: two gateway processes against one leader. The agents' apply logs show that the two never push to
/// one follower at the same time, and when the serving one is SIGKILLed the other takes over within seconds.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class TwoGatewaysTests(ReplicationFixture fixture)
{
    private static readonly TimeSpan Takeover = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Only_one_gateway_pushes_to_a_follower_and_the_survivor_takes_over()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var world = await FaultWorld.CreateAsync(leader);
        var a = world.Track(ChildHost.Gateway(leader, "gw-a"));
        await a.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), a.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), a.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        // gw-a holds both followers; gw-b runs beside it and must wait.
        var b = world.Track(ChildHost.Gateway(leader, "gw-b"));
        await b.StartAsync();
        var burst = world.StartWriting(writers: 2, seed: 6);
        await burst.ReachedAsync(150, "with both gateways up");
        var before = new Dictionary<string, int>();
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            before[follower] = (await world.ApplyLogAsync(follower)).Count;
        }

        await Eventually.HoldsAsync(async () =>
            (await world.ApplyLogAsync(FaultWorld.East)).Count > before[FaultWorld.East] &&
            (await world.ApplyLogAsync(FaultWorld.West)).Count > before[FaultWorld.West], "gw-a pushes the burst");
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            Assert.DoesNotContain(await world.ApplyLogAsync(follower), batch => batch.Gateway == "gw-b");
        }

        await a.KillAsync();
        var killedAt = Stopwatch.StartNew();
        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            await Eventually.HoldsAsync(async () => (await world.ApplyLogAsync(follower)).Any(batch => batch.Gateway == "gw-b"),
                $"gw-b pushes to {follower} after gw-a died", Takeover);
        }

        var takeover = killedAt.Elapsed;
        await burst.ReachedAsync(burst.Writes + 100, "after the takeover");
        await burst.StopAsync();
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        Assert.True(takeover < Takeover, $"takeover took {takeover.TotalMilliseconds:0} ms");

        foreach (var follower in new[] { FaultWorld.East, FaultWorld.West })
        {
            var log = await world.ApplyLogAsync(follower);
            var overlaps = (from x in log
                            from y in log
                            where string.CompareOrdinal(x.Gateway, y.Gateway) < 0
                               && x.StartedAt < y.AppliedAt && y.StartedAt < x.AppliedAt
                            select $"{x.Gateway} {x.StartedAt:O}..{x.AppliedAt:O} with {y.Gateway} {y.StartedAt:O}..{y.AppliedAt:O}").ToList();
            Assert.True(overlaps.Count == 0, $"{follower} received pushes from two gateways at once: {string.Join("; ", overlaps)}");

            // Once gw-b pushed, gw-a never did again: the handover happened once.
            var firstB = log.FindIndex(batch => batch.Gateway == "gw-b");
            Assert.DoesNotContain(log.Skip(firstB), batch => batch.Gateway == "gw-a");
        }
    }
}
