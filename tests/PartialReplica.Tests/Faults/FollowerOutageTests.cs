using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// R2: a follower's agent is killed, or its PostgreSQL server stopped, while writes go on. It catches up
/// when it returns, and the other follower is served meanwhile as if nothing happened.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class FollowerOutageTests(ReplicationFixture fixture)
{
    /// <summary>How far behind the healthy follower may fall while the other is down (pushes take milliseconds).</summary>
    private static readonly TimeSpan HealthyLag = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Killed_agent_catches_up_after_restart_and_never_holds_back_the_other_follower()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        var east = await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        await east.KillAsync();
        await WriteWhileDownAsync(world, seed: 2);
        Assert.False(await world.IsExactAsync(FaultWorld.East), "east-1 changed nothing while its agent was dead");

        await east.StartAsync();
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<string>(world.Leader,
            "SELECT last_error FROM partial_replica.delivery WHERE follower = $1", FaultWorld.East) is null,
            "east-1's last error is cleared once it is delivered to again");
    }

    [Fact]
    public async Task Stopped_follower_database_catches_up_after_restart_and_never_holds_back_the_other_follower()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var eastServer = await fixture.StartClusterAsync("east-faults");
        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        var eastDb = eastServer.ConnectionString(await eastServer.CreateDatabaseAsync("faults", CancellationToken.None));
        await world.AddFollowerAsync(FaultWorld.East, eastDb, gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        // A crash-like stop: no checkpoint, the agent's connections die mid-use.
        await eastServer.StopAsync(immediate: true, CancellationToken.None);
        await WriteWhileDownAsync(world, seed: 3);

        await eastServer.StartServerAsync(CancellationToken.None);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
        await Eventually.HoldsAsync(async () => await Db.ScalarAsync<string>(world.Leader,
            "SELECT last_error FROM partial_replica.delivery WHERE follower = $1", FaultWorld.East) is null,
            "east-1's last error is cleared once it is delivered to again");
    }

    /// <summary>
    /// Two rounds of writes while east-1 is down: the first while its worker still retries, the second once
    /// its failure is recorded (circuit open, backing off). After each round west-1 must hold exactly its
    /// granted set within <see cref="HealthyLag"/> of the last commit.
    /// </summary>
    private static async Task WriteWhileDownAsync(TestWorld world, int seed)
    {
        for (var round = 0; round < 2; round++)
        {
            var burst = world.StartWriting(writers: 2, seed: seed * 10 + round);
            await burst.ReachedAsync(100, $"round {round + 1} while east-1 is down");
            await burst.StopAsync();
            var lag = await world.AwaitExactAsync(FaultWorld.West, HealthyLag);
            Assert.True(lag < HealthyLag, $"west-1 lagged {lag.TotalMilliseconds:0} ms behind the last commit while east-1 was down");
            if (round == 0)
            {
                await Eventually.HoldsAsync(async () => await Db.ScalarAsync<string>(world.Leader,
                    "SELECT last_error FROM partial_replica.delivery WHERE follower = $1", FaultWorld.East) is not null,
                    "east-1's failed pushes are recorded as its last error");
            }
        }
    }
}
