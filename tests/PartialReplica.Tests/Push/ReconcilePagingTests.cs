using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A full reconcile's pages: the first holds <c>Dispatch:ReconcileFirstBatchSize</c> variables, each next one twice
/// as many up to <c>Dispatch:ReconcileBatchSize</c>, and a last batch carries none (it only sweeps). The agent logs
/// every batch it applies, so the sizes are read from the follower.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class ReconcilePagingTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task A_new_followers_reconcile_starts_with_a_small_page_and_doubles_up_to_the_batch_size()
    {
        const int First = 2;
        const int Largest = 5;
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var gateway = world.Track(ChildHost.Gateway(leader, "gw", new Dictionary<string, string>
        {
            ["ReconcileFirstBatchSize"] = First.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ReconcileBatchSize"] = Largest.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
        // The agent is up before the gateway starts, so the one reconcile runs through without a failed push (a push
        // refused by an agent still starting fails the reconcile, which then starts over).
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "paging"), gateway.Url);
        await gateway.StartAsync();
        await world.AwaitExactAsync(FaultWorld.East);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.delivery WHERE needs_reconcile") == 0, "the follower's first full reconcile is recorded");

        // 15 granted variables: pages of 2, 4, 5 and the 4 left, then the sweep-only last batch.
        var expected = new List<int>();
        var size = First;
        for (var left = FaultWorld.GrantedTo(FaultWorld.East).Length; left > 0; left -= expected[^1])
        {
            expected.Add(Math.Min(size, left));
            size = Math.Min(size * 2, Largest);
        }

        expected.Add(0);
        Assert.Equal([2, 4, 5, 4, 0], expected);

        // Two pages are in flight at a time, so the agent may log neighbours in either order.
        var applied = (await world.ApplyLogAsync(FaultWorld.East)).Select(b => b.Variables);
        Assert.Equal(expected.Order(), applied.Order());
    }
}
