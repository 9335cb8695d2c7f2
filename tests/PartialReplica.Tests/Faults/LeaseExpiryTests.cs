using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// Issue 26: a gateway that cannot renew its lease (the leader stopped for real) stops serving its followers once
/// its lease has run out by its own count, says so once, and serves them again when the leader is back.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class LeaseExpiryTests(ReplicationFixture fixture)
{
    private const string Expired = "lease ran out without a renewal: it stops serving its 1 followers";

    [Fact]
    public async Task A_gateway_cut_off_from_the_leader_stops_serving_when_its_lease_runs_out_and_resumes_after()
    {
        var server = await fixture.StartClusterAsync("lease-expiry");
        var leader = await ReplicationFixture.CreateLeaderOnAsync(server);
        await using var world = await FaultWorld.CreateAsync(fixture, leader);
        // Every line kept: while the leader is down the gateway's loops log their failures with stack traces, which would
        // push the one "lease ran out" line out of the latest 400.
        var gateway = world.Track(ChildHost.Gateway(leader, "gw-cut").KeepAllLines());
        await gateway.StartAsync();
        await world.AddFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "lease"), gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        Assert.Equal("gw-cut", (await world.ServedByAsync())[FaultWorld.East]);
        Assert.DoesNotContain(gateway.Output, line => line.Contains(Expired, StringComparison.Ordinal));

        await server.StopAsync(immediate: true, CancellationToken.None);
        var stopped = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.HoldsAsync(() => Task.FromResult(gateway.Output.Any(line => line.Contains(Expired, StringComparison.Ordinal))),
            "the gateway gives east-1 up once its lease ran out", TimeSpan.FromSeconds(20));
        // Not before the lease (6 s) could have run out, counted from the last renewal before the stop.
        Assert.True(stopped.Elapsed >= TimeSpan.FromSeconds(3), $"gave up after {stopped.Elapsed.TotalSeconds:0.0} s");

        await server.StartServerAsync(CancellationToken.None);
        // This test's own pooled connections died with the server.
        Npgsql.NpgsqlConnection.ClearAllPools();
        world.LeaderSource.Clear();
        await Eventually.HoldsAsync(async () => (await world.ServedByAsync())[FaultWorld.East] == "gw-cut", "gw-cut serves east-1 again",
            TimeSpan.FromSeconds(60));
        await world.SetSecretAsync(FaultWorld.Inventory[0], [2, 6]);
        await world.AwaitExactAsync(FaultWorld.East, TimeSpan.FromSeconds(60));
        Assert.Single(gateway.Output, line => line.Contains(Expired, StringComparison.Ordinal));
    }
}
