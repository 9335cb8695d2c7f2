using PartialReplica.Tests.Infrastructure;

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
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var world = await FaultWorld.CreateAsync(leader);
        var gateway = world.Track(ChildHost.Gateway(leader, "gw"));
        await gateway.StartAsync();
        var east = await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "faults"), gateway.Url);
        await world.AddFollowerAsync(FaultWorld.West, await fixture.CreateDatabaseAsync(fixture.FollowerServers[1], "faults"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);

        await east.KillAsync();
        var burst = world.StartWriting(writers: 2, seed: 2);
        await burst.ReachedAsync(200, "while east-1's agent is dead");
        await burst.StopAsync();

        var lag = await world.AwaitExactAsync(FaultWorld.West, HealthyLag);
        Assert.False(await world.IsExactAsync(FaultWorld.East), "east-1 changed nothing while its agent was dead");
        Assert.True(lag < HealthyLag, $"west-1 lagged {lag.TotalMilliseconds:0} ms behind the last commit while east-1 was down");

        await east.StartAsync();
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
    }

    [Fact]
    public async Task Stopped_follower_database_catches_up_after_restart_and_never_holds_back_the_other_follower()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var world = await FaultWorld.CreateAsync(leader);
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
        var burst = world.StartWriting(writers: 2, seed: 3);
        await burst.ReachedAsync(200, "while east-1's database is down");
        await burst.StopAsync();

        var lag = await world.AwaitExactAsync(FaultWorld.West, HealthyLag);
        Assert.True(lag < HealthyLag, $"west-1 lagged {lag.TotalMilliseconds:0} ms behind the last commit while east-1 was down");

        await eastServer.StartServerAsync(CancellationToken.None);
        await world.AwaitExactAsync(FaultWorld.East);
        await world.AwaitExactAsync(FaultWorld.West);
    }
}
