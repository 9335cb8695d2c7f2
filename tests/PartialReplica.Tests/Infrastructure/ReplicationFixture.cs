using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Tooling.Clusters;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// Real PostgreSQL for a test class: one leader server and two follower servers, started as throwaway
/// clusters on loopback and removed afterwards. When <c>PARTIALREPLICA_TEST_PG</c> names an existing
/// server (a superuser connection string), every database is created there instead. Each test makes
/// its own databases, so tests never see each other's rows.
/// </summary>
public sealed class ReplicationFixture : IAsyncLifetime
{
    private readonly List<PostgresCluster> _clusters = [];
    private readonly List<(IPostgresServer Server, string Database)> _databases = [];
    private readonly List<PostgresCluster> _faultClusters = [];

    public IPostgresServer LeaderServer { get; private set; } = null!;

    public IReadOnlyList<IPostgresServer> FollowerServers { get; private set; } = [];

    /// <summary>Whether the servers are ours to stop and restart (false with PARTIALREPLICA_TEST_PG).</summary>
    public bool OwnsServers => _clusters.Count > 0;

    public async Task InitializeAsync()
    {
        var existing = Environment.GetEnvironmentVariable("PARTIALREPLICA_TEST_PG");
        if (!string.IsNullOrEmpty(existing))
        {
            var server = new ExistingServer(existing);
            LeaderServer = server;
            FollowerServers = [server, server];
            return;
        }

        var started = await Task.WhenAll(
            PostgresCluster.StartAsync(new ClusterOptions { Name = "leader" }, CancellationToken.None),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "follower-1" }, CancellationToken.None),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "follower-2" }, CancellationToken.None));
        _clusters.AddRange(started);
        LeaderServer = started[0];
        FollowerServers = [started[1], started[2]];
    }

    public async Task DisposeAsync()
    {
        foreach (var cluster in _faultClusters)
        {
            await cluster.DisposeAsync();
        }

        if (OwnsServers)
        {
            foreach (var cluster in _clusters)
            {
                await cluster.DisposeAsync();
            }

            return;
        }

        // On a shared server, followers go first: their subscriptions hold slots on the leader database.
        foreach (var (server, database) in Enumerable.Reverse(_databases))
        {
            await server.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    /// <summary>A fresh database on the given server; returns its superuser connection string.</summary>
    public async Task<string> CreateDatabaseAsync(IPostgresServer server, string prefix)
    {
        var database = await server.CreateDatabaseAsync(prefix, CancellationToken.None);
        _databases.Add((server, database));
        return server.ConnectionString(database);
    }

    /// <summary>
    /// A leader database with setup run; returns it and the setup result. Replication slots are
    /// server-wide, so with our own clusters every leader gets a server of its own.
    /// </summary>
    public async Task<(string Leader, SetupResult Setup)> CreateLeaderAsync()
    {
        var server = LeaderServer;
        if (OwnsServers)
        {
            var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "leader" }, CancellationToken.None);
            _clusters.Add(cluster);
            server = cluster;
        }

        var leader = await CreateDatabaseAsync(server, "leader");
        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, RelayOptionsFor(server, leader), CancellationToken.None);
        return (leader, setup);
    }

    /// <summary>
    /// Setup's options for a leader on <paramref name="server"/>: its own server gets the default relay; a shared
    /// server (<c>PARTIALREPLICA_TEST_PG</c>) one relay database per leader, named after it.
    /// </summary>
    public SetupOptions RelayOptionsFor(IPostgresServer server, string leader)
    {
        if (OwnsServers)
        {
            return new SetupOptions { DataKey = TestDataKey.Key };
        }

        var relay = server.ConnectionString(new NpgsqlConnectionStringBuilder(leader).Database + "_relay");
        _databases.Add((server, new NpgsqlConnectionStringBuilder(relay).Database!));
        return new SetupOptions { DataKey = TestDataKey.Key, RelayConnectionString = relay };
    }

    /// <summary>
    /// A server of the test's own, which it may stop and restart (fault tests), removed with the fixture.
    /// Made even when <c>PARTIALREPLICA_TEST_PG</c> names a shared server, which must never be stopped.
    /// </summary>
    public async Task<PostgresCluster> StartClusterAsync(string name)
    {
        var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = name }, CancellationToken.None);
        lock (_faultClusters)
        {
            _faultClusters.Add(cluster);
        }

        return cluster;
    }

    /// <summary>A leader database with setup run on <paramref name="cluster"/> (one of <see cref="StartClusterAsync"/>).</summary>
    public static async Task<string> CreateLeaderOnAsync(PostgresCluster cluster)
    {
        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("leader", CancellationToken.None));
        await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        return leader;
    }

    /// <summary>A follower database on follower server <paramref name="index"/>, initialised as <paramref name="name"/>.</summary>
    public async Task<(string Follower, FollowerInitResult Init)> CreateFollowerAsync(string leader, int index, string name)
    {
        var follower = await CreateDatabaseAsync(FollowerServers[index], "follower");
        var init = await InitFollowerAsync(leader, follower, name);
        return (follower, init);
    }

    /// <summary>Loads <c>policies/demo.yml</c> into the leader's root branch.</summary>
    public static async Task<PolicyLoadResult> LoadDemoPolicyAsync(string leader)
    {
        await using var dataSource = NpgsqlDataSource.Create(leader);
        return await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")) },
            CancellationToken.None);
    }

    public static async Task<FollowerInitResult> InitFollowerAsync(string leader, string follower, string name)
    {
        await using var followerSource = NpgsqlDataSource.Create(follower);
        return await new FollowerInit(NullLogger.Instance).RunAsync(
            leader, followerSource, new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name }, CancellationToken.None);
    }
}
