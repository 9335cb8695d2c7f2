using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Clusters;

namespace PartialReplica.Tests.Clusters;

public sealed class PostgresClusterTests
{
    [Fact]
    public async Task A_cluster_listens_on_loopback_with_logical_wal_and_leaves_nothing_behind()
    {
        string dataDirectory;
        await using (var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "probe" }, CancellationToken.None))
        {
            dataDirectory = cluster.DataDirectory;
            Assert.Equal("logical", await Db.ScalarAsync<string>(cluster.ConnectionString(), "SHOW wal_level"));
            Assert.Equal("127.0.0.1", await Db.ScalarAsync<string>(cluster.ConnectionString(), "SHOW listen_addresses"));
            Assert.Equal(cluster.Port, int.Parse(await Db.ScalarAsync<string>(cluster.ConnectionString(), "SHOW port") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(Directory.Exists(dataDirectory));
        }

        Assert.False(Directory.Exists(dataDirectory));
        Assert.False(File.Exists(dataDirectory + ".owner"));
    }

    [Fact]
    public async Task A_stopped_cluster_starts_again_on_the_same_port_with_its_data()
    {
        await using var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "restart" }, CancellationToken.None);
        await Db.ExecuteAsync(cluster.ConnectionString(), "CREATE TABLE kept (id int)");

        await cluster.StopAsync(immediate: true, CancellationToken.None);
        await Assert.ThrowsAnyAsync<Exception>(() => Db.ScalarAsync<long>(cluster.ConnectionString(), "SELECT 1"));
        await cluster.StartServerAsync(CancellationToken.None);

        Assert.Equal(0L, await Db.ScalarAsync<long>(cluster.ConnectionString(), "SELECT count(*) FROM kept"));
    }
}
