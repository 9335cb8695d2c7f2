using System.Diagnostics;
using PartialReplica.Leader.Gateways;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;
using Xunit.Abstractions;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// Issue 26: three gateway processes share twelve followers by rendezvous hashing over the live gateways. A gateway
/// SIGKILLed loses its followers to the others once its lease runs out (within 10 s of the kill, default lease and
/// renew interval), the followers end exact, no follower ever receives pushes from two gateways at once, the other
/// followers never move, and the gateway started again under the same id gets exactly its followers back.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class GatewaySpreadTests(ReplicationFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan LeaseTakeover = TimeSpan.FromSeconds(10);
    private static readonly string[] Ids = ["gw-a", "gw-b", "gw-c"];

    [Fact]
    public async Task Three_gateways_split_twelve_followers_and_a_killed_one_hands_its_share_over_within_the_lease()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var gateways = Ids.ToDictionary(id => id, id => world.Track(ChildHost.Gateway(leader, id)), StringComparer.Ordinal);
        foreach (var gateway in gateways.Values)
        {
            await gateway.StartAsync();
        }

        // All three live before any follower registers, so none starts on a gateway it then leaves.
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.gateways WHERE lease_until > clock_timestamp()") == 3, "three live gateways");

        // The agents ask gw-a (which stays up) for the token keys; each follower is a database on one of the two servers.
        var sites = await world.AddSitesAsync(12);
        for (var i = 0; i < sites.Length; i++)
        {
            await world.AddInProcessFollowerAsync(sites[i], await fixture.CreateDatabaseAsync(fixture.FollowerServers[i % 2], "spread"), gateways["gw-a"].Url);
        }

        var owners = Rendezvous.Assign(sites, Ids);
        await AwaitServedAsync(world, owners, "each follower served by its rendezvous gateway among all three");
        var shares = Ids.ToDictionary(id => id, id => owners.Values.Count(o => o == id));
        Assert.All(shares, share => Assert.InRange(share.Value, 2, 6));
        Assert.Equal(12, shares.Values.Sum());
        foreach (var site in sites)
        {
            await world.AwaitExactAsync(site);
        }

        var burst = world.StartWriting(writers: 2, seed: 26);
        await burst.ReachedAsync(100, "with three gateways up");
        var logged = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var site in sites)
        {
            logged[site] = (await world.ApplyLogAsync(site)).Count;
        }

        await gateways["gw-c"].KillAsync();
        var killedAt = Stopwatch.StartNew();
        var survivors = Rendezvous.Assign(sites, ["gw-a", "gw-b"]);
        var moved = sites.Where(s => owners[s] == "gw-c").ToList();
        Assert.All(sites.Except(moved), s => Assert.Equal(owners[s], survivors[s]));

        // Served again: the new owner has pushed a batch of the burst to each of gw-c's followers.
        foreach (var site in moved)
        {
            await Eventually.HoldsAsync(async () => (await world.ApplyLogAsync(site)).Skip(logged[site]).Any(b => b.Gateway == survivors[site]),
                $"{survivors[site]} pushes to {site} after gw-c was killed", LeaseTakeover);
        }

        var takeover = killedAt.Elapsed;
        Assert.True(takeover <= LeaseTakeover, $"gw-c's followers were served again {takeover.TotalMilliseconds:0} ms after the kill");
        output.WriteLine($"gw-c's {moved.Count} followers served again {takeover.TotalMilliseconds:0} ms after the kill; shares {string.Join(", ", shares.Select(s => $"{s.Key} {s.Value}"))}");
        await AwaitServedAsync(world, survivors, "gw-c's followers recorded under their new gateways");
        await burst.ReachedAsync(burst.Writes + 100, "after the takeover");
        await burst.StopAsync();
        foreach (var site in sites)
        {
            await world.AwaitExactAsync(site);
        }

        // gw-c comes back under its id: exactly its followers move back, after a graceful handover.
        await gateways["gw-c"].StartAsync();
        await AwaitServedAsync(world, owners, "gw-c's followers back with gw-c");
        var returned = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var site in sites)
        {
            returned[site] = (await world.ApplyLogAsync(site)).Count;
        }

        var after = world.StartWriting(writers: 1, seed: 27);
        await after.ReachedAsync(60, "after gw-c returned");
        await after.StopAsync();
        foreach (var site in sites)
        {
            await world.AwaitExactAsync(site);
            var log = await world.ApplyLogAsync(site);
            Assert.All(log.Skip(returned[site]), b => Assert.Equal(owners[site], b.Gateway));

            var overlaps = FaultWorld.Overlaps(log);
            Assert.True(overlaps.Count == 0, $"{site} received pushes from two gateways at once: {string.Join("; ", overlaps)}");

            // A follower of gw-a or gw-b never moved: every batch it received came from its one gateway.
            if (owners[site] != "gw-c")
            {
                Assert.All(log, b => Assert.Equal(owners[site], b.Gateway));
            }
            else
            {
                // gw-c's follower: gw-c, then its survivor, then gw-c again, each handover once.
                var sources = log.Select(b => b.Gateway).Aggregate(new List<string>(), (runs, g) =>
                {
                    if (runs.Count == 0 || runs[^1] != g)
                    {
                        runs.Add(g);
                    }

                    return runs;
                });
                Assert.Equal(["gw-c", survivors[site]!, "gw-c"], sources);
            }
        }
    }

    private static async Task AwaitServedAsync(TestWorld world, Dictionary<string, string?> expected, string what)
    {
        var served = new Dictionary<string, string?>();
        try
        {
            await Eventually.HoldsAsync(async () =>
            {
                served = await world.ServedByAsync();
                return expected.All(e => served.TryGetValue(e.Key, out var gateway) && gateway == e.Value);
            }, what);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var wrong = expected.Where(e => !served.TryGetValue(e.Key, out var g) || g != e.Value)
                .Select(e => $"{e.Key}: {(served.TryGetValue(e.Key, out var g) ? g ?? "none" : "missing")} (expected {e.Value})");
            throw new Xunit.Sdk.XunitException($"{e.Message}{Environment.NewLine}{string.Join(Environment.NewLine, wrong)}{Environment.NewLine}{world.OutputTails()}");
        }
    }
}
