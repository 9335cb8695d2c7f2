using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A follower whose registration is deleted loses its gateway worker. Before, the worker kept trying: every poll it
/// found no delivery state, logged the failure and tried again, for as long as the gateway ran.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class FollowerRemovalTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task A_removed_follower_is_no_longer_served_and_the_other_one_still_is()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "removal"), gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "removal"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        await Db.ExecuteAsync(leader, "DELETE FROM partial_replica.followers WHERE name = $1", FaultWorld.West);

        // The gateway re-reads its followers on the table's notification (and every 200 ms here); a worker caught
        // between the delete and that read may fail once. Then, over four of its 500 ms polls, nothing more for
        // west-1 (the old worker failed at every one), while east-1 is still served.
        await Task.Delay(TimeSpan.FromSeconds(1));
        bool FailedForWest(string line) => line.Contains("Push to follower " + FaultWorld.West + " failed", StringComparison.Ordinal);
        var before = gateway.Output.Count(FailedForWest);
        await world.SetSecretAsync(FaultWorld.Billing[0], [4, 2]);
        await world.AwaitExactAsync(FaultWorld.East);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(before, gateway.Output.Count(FailedForWest));
    }
}
