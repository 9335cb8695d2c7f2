using Microsoft.Extensions.Logging.Abstractions;
using PartialReplica.Leader.Relay;
using PartialReplica.Leader.Setup;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.SideChannels;

/// <summary>
/// S6: a relay inside the leader's server is allowed only when its pg_hba.conf keeps follower logins in the relay
/// database. With Debian's stock rules (local replication for all, host all for all) setup names the exact lines
/// to add and changes nothing, on the leader or the relay.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class RelayPlacementTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Setup_refuses_a_relay_beside_the_leader_while_pg_hba_lets_follower_logins_out_and_changes_nothing()
    {
        var cluster = await fixture.StartClusterAsync("open-hba");
        var hba = Path.Combine(cluster.DataDirectory, "pg_hba.conf");
        // An operator's existing file: the product's lines are not there.
        await File.WriteAllTextAsync(hba, """
            local   all          all                 trust
            host    all          all   127.0.0.1/32  scram-sha-256
            local   replication  all                 trust
            host    replication  all   127.0.0.1/32  scram-sha-256
            """);
        await Db.ExecuteAsync(cluster.ConnectionString(), "SELECT pg_reload_conf()");
        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("leader", CancellationToken.None));

        var refused = await Assert.ThrowsAsync<PartialReplicaException>(() =>
            new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None));
        Assert.Contains("does not confine follower logins", refused.Message, StringComparison.Ordinal);
        Assert.Contains("physical replication", refused.Message, StringComparison.Ordinal);
        foreach (var line in RelayNames.HbaLines)
        {
            Assert.Contains(line, refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_namespace WHERE nspname = 'partial_replica'"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_database WHERE datname = $1", RelayNames.DefaultDatabase));

        // With the lines above the rest, the same setup goes through.
        await File.WriteAllTextAsync(hba, string.Join('\n', RelayNames.HbaLines) + "\n" + await File.ReadAllTextAsync(hba));
        await Db.ExecuteAsync(cluster.ConnectionString(), "SELECT pg_reload_conf()");
        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        Assert.True(setup.Relay!.InLeaderCluster);
        Assert.Null(setup.Relay.HbaAdvice);
        Assert.Equal(RelayNames.DefaultDatabase, setup.Relay.Location.Database);
    }
}
