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
    private int _followerServerCount = 2;
    private bool _startLeaderServer = true;
    private bool _ownsServers;

    public IPostgresServer LeaderServer { get; private set; } = null!;

    public IReadOnlyList<IPostgresServer> FollowerServers { get; private set; } = [];

    /// <summary>Whether the servers are ours to stop and restart (false with PARTIALREPLICA_TEST_PG).</summary>
    public bool OwnsServers => _ownsServers;

    /// <summary>
    /// Servers for one <see cref="TestWorld"/> of its own: <paramref name="followerServers"/> follower servers and no
    /// leader server up front (every leader gets a server of its own anyway, see <see cref="CreateLeaderAsync"/>).
    /// </summary>
    internal static async Task<ReplicationFixture> StartAsync(int followerServers)
    {
        var fixture = new ReplicationFixture { _followerServerCount = followerServers, _startLeaderServer = false };
        await fixture.InitializeAsync();
        return fixture;
    }

    public async Task InitializeAsync()
    {
        var existing = Environment.GetEnvironmentVariable("PARTIALREPLICA_TEST_PG");
        if (!string.IsNullOrEmpty(existing))
        {
            var server = new ExistingServer(existing);
            LeaderServer = server;
            FollowerServers = [.. Enumerable.Repeat<IPostgresServer>(server, _followerServerCount)];
            return;
        }

        _ownsServers = true;
        var names = Enumerable.Range(1, _followerServerCount).Select(i => $"follower-{i}").Prepend(_startLeaderServer ? "leader" : null).OfType<string>();
        var started = await Task.WhenAll(names.Select(name => PostgresCluster.StartAsync(new ClusterOptions { Name = name }, CancellationToken.None)));
        _clusters.AddRange(started);
        LeaderServer = _startLeaderServer ? started[0] : null!;
        FollowerServers = [.. started.Skip(_startLeaderServer ? 1 : 0)];
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
    /// server-wide, so with our own clusters every leader gets a server of its own. With <paramref name="conjurSchema"/>
    /// the database is first made by Conjur's own migrations (<see cref="ConjurSchema"/>), and setup adopts it.
    /// </summary>
    public async Task<(string Leader, SetupResult Setup)> CreateLeaderAsync(bool conjurSchema = false)
    {
        var server = LeaderServer;
        if (OwnsServers)
        {
            var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "leader" }, CancellationToken.None);
            lock (_clusters)
            {
                _clusters.Add(cluster);
            }

            server = cluster;
        }

        var leader = await CreateDatabaseAsync(server, "leader");
        if (conjurSchema)
        {
            await ConjurSchema.LoadAsync(leader);
        }

        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, RelayOptionsFor(server, leader), CancellationToken.None);
        return (leader, setup);
    }

    /// <summary>
    /// Stops the server <see cref="CreateLeaderAsync"/> started for <paramref name="leader"/> once its test is done
    /// with it, so a collection sharing this fixture does not keep one idle server per test until its end.
    /// </summary>
    public async Task ReleaseLeaderAsync(string leader)
    {
        var port = new NpgsqlConnectionStringBuilder(leader).Port;
        PostgresCluster? cluster;
        lock (_clusters)
        {
            cluster = _clusters.Skip(_startLeaderServer ? 1 + FollowerServers.Count : FollowerServers.Count).FirstOrDefault(c => c.Port == port);
            if (cluster is not null)
            {
                _clusters.Remove(cluster);
            }
        }

        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }
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
