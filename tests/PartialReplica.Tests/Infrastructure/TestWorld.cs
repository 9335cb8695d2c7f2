using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;

using PartialReplica.Tooling.Processes;
namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// One end-to-end world on real servers: a leader with setup run, its policy and secrets, a gateway, and followers
/// with their agents (in process or as child processes), optionally a redis-server the gateways share state through.
/// Described and started by <see cref="TestWorldBuilder"/>; servers come from a <see cref="ReplicationFixture"/>
/// shared by a collection (each world has its own leader server and its own follower databases) or are the world's
/// own. Disposing stops every host and process tree it started, gives back its followers' apply workers, and stops
/// the leader server it made.
/// </summary>
internal sealed class TestWorld : IAsyncDisposable
{
    private readonly ReplicationFixture _servers;
    private readonly ReplicationFixture? _ownServers;
    private readonly bool _ownsLeader;
    private readonly SetupResult? _setup;
    private readonly Func<string, string[]>? _grantedTo;
    private readonly List<ChildHost> _hosts = [];
    private readonly List<WebApplication> _apps = [];
    private readonly Dictionary<string, WorldFollower> _followers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _rotatedKeys = new(StringComparer.Ordinal);
    private string? _gatewayUrl;

    internal TestWorld(ReplicationFixture servers, ReplicationFixture? ownServers, string leader, bool ownsLeader, SetupResult? setup,
        Func<string, string[]>? grantedTo)
    {
        _servers = servers;
        _ownServers = ownServers;
        _ownsLeader = ownsLeader;
        _setup = setup;
        _grantedTo = grantedTo;
        Leader = leader;
        LeaderSource = NpgsqlDataSource.Create(leader);
    }

    /// <summary>A world on <paramref name="servers"/> (a collection's or a class's fixture).</summary>
    public static TestWorldBuilder On(ReplicationFixture servers) => new(servers, 0);

    /// <summary>A world on servers of its own: a leader server and <paramref name="followerServers"/> follower servers.</summary>
    public static TestWorldBuilder OnOwnServers(int followerServers) => new(null, followerServers);

    public string Leader { get; }

    public NpgsqlDataSource LeaderSource { get; }

    /// <summary>What setup of the fresh leader reported (its relay, the admin's API key).</summary>
    public SetupResult Setup => _setup ?? throw new InvalidOperationException("The world did not make its leader: no setup result.");

    /// <summary>The admin's API key, as setup of the fresh leader printed it.</summary>
    public string AdminApiKey => Setup.AdminApiKey!;

    /// <summary>Encrypts values the way <c>secret set</c> does; the push path only ever copies the ciphertext.</summary>
    public Slosilo Crypto { get; } = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());

    /// <summary>The world's gateway (see <see cref="TestWorldBuilder.Gateway"/>).</summary>
    public string GatewayUrl => _gatewayUrl ?? throw new InvalidOperationException("The world has no gateway.");

    /// <summary>A client whose base address is the world's gateway.</summary>
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The world's gateway when it is a child process (<see cref="TestWorldBuilder.ChildGateway"/>).</summary>
    public ChildHost? GatewayProcess { get; private set; }

    public RedisServer? Redis { get; private set; }

    /// <summary>Whether child processes log at Trace level and keep every line (<see cref="TestWorldBuilder.LogEverything"/>).</summary>
    internal bool LogsEverything { get; init; }

    public string FollowerDb(string name) => _followers[name].Database;

    /// <summary>The URL follower init recorded for <paramref name="name"/>'s agent.</summary>
    public string AgentUrl(string name) => _followers[name].AgentUrl;

    /// <summary>What follower init reported for <paramref name="name"/> (its slot, its API key if it made the host).</summary>
    public FollowerInitResult FollowerInit(string name) => _followers[name].Init;

    /// <summary>The agent process of <paramref name="name"/> (an agent started as a child process).</summary>
    public ChildHost Agent(string name) => _followers[name].Child ?? throw new InvalidOperationException($"{name}'s agent is not a child process.");

    /// <summary>
    /// An API key host <paramref name="name"/> can authenticate with: the one follower init printed or, where the policy
    /// had made the host already (init prints none then), one rotated once and kept.
    /// </summary>
    public async Task<string> ApiKeyAsync(string name)
    {
        if (_followers.TryGetValue(name, out var follower) && follower.Init.ApiKey is { } printed)
        {
            return printed;
        }

        if (!_rotatedKeys.TryGetValue(name, out var rotated))
        {
            rotated = (await ApiKeyAuthenticator.RotateAsync(LeaderSource, "default:host:" + name, TestDataKey.Key, CancellationToken.None))!;
            _rotatedKeys[name] = rotated;
        }

        return rotated;
    }

    public async Task<PolicyLoadResult> LoadPolicyAsync(string text, PolicyMode mode = PolicyMode.Load, string branch = "root") =>
        await new PolicyLoader(NullLogger.Instance).LoadAsync(LeaderSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = text, Mode = mode, Branch = branch }, CancellationToken.None);

    /// <summary>Adds a version of <paramref name="id"/> on the leader, encrypted as Conjur stores it.</summary>
    public async Task SetSecretAsync(string id, byte[] plaintext) =>
        await Db.ExecuteAsync(Leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, Crypto.Encrypt(plaintext, id));

    public Task SetSecretAsync(string id, string plaintext) => SetSecretAsync(id, Encoding.UTF8.GetBytes(plaintext));

    /// <summary>
    /// Writes a new version of <paramref name="id"/> on the leader (plaintext <paramref name="plaintext"/> of its
    /// number), one transaction after another, until <paramref name="cancellationToken"/> is cancelled; returns how many.
    /// </summary>
    public async Task<int> WriteVersionsAsync(string id, Func<int, string> plaintext, CancellationToken cancellationToken)
    {
        var written = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await using var command = LeaderSource.CreateCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)");
            command.Parameters.AddWithValue(id);
            command.Parameters.AddWithValue(Crypto.Encrypt(Encoding.UTF8.GetBytes(plaintext(written)), id));
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            written++;
        }

        return written;
    }

    /// <summary>Keeps <paramref name="host"/> to kill when the world is disposed.</summary>
    public ChildHost Track(ChildHost host)
    {
        _hosts.Add(host);
        return host;
    }

    /// <summary>The world's in-process gateway, when it has one (its services: metrics, options).</summary>
    public WebApplication? GatewayApp { get; private set; }

    /// <summary>Keeps <paramref name="app"/> to stop when the world is disposed.</summary>
    public WebApplication Track(WebApplication app)
    {
        _apps.Add(app);
        return app;
    }

    /// <summary>Starts an in-process gateway for the leader (the world's gateway if it has none yet); returns its URL.</summary>
    public async Task<string> StartGatewayAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        if (Redis is not null && !all.ContainsKey("Gateway:Redis"))
        {
            all["Gateway:Redis"] = Redis.Configuration;
        }

        var (app, url) = await WebHosts.StartGatewayAsync(Leader, all);
        Track(app);
        GatewayApp ??= app;
        UseGateway(url);
        return url;
    }

    /// <summary>Starts a gateway child process, instance <paramref name="instanceId"/> (the world's gateway if it has none yet).</summary>
    public async Task<ChildHost> StartChildGatewayAsync(string instanceId)
    {
        var gateway = Track(ChildHost.Gateway(Leader, instanceId));
        if (LogsEverything)
        {
            gateway.LogEverything();
        }

        if (Redis is not null)
        {
            gateway.WithEnvironment("Gateway__Redis", Redis.Configuration);
        }

        await gateway.StartAsync();
        GatewayProcess ??= gateway;
        UseGateway(gateway.Url);
        return gateway;
    }

    /// <summary>
    /// A follower on a fresh database of follower server <paramref name="server"/>, its agent serving the world's
    /// gateway with <paramref name="settings"/> (configuration keys such as <c>Agent:GatewayCa</c>) besides the test defaults.
    /// </summary>
    public async Task<string> AddFollowerAsync(string name, int server, HostKind agent = HostKind.InProcess, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var database = await _servers.CreateDatabaseAsync(_servers.FollowerServers[server], "follower");
        if (agent == HostKind.ChildProcess)
        {
            var environment = (settings ?? new Dictionary<string, string?>())
                .ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value ?? "");
            await AddFollowerAsync(name, database, GatewayUrl, environment);
        }
        else
        {
            await AddInProcessFollowerAsync(name, database, GatewayUrl, settings);
        }

        return database;
    }

    /// <summary>
    /// Initialises <paramref name="followerDb"/> as follower <paramref name="name"/> with its agent's URL recorded,
    /// and starts that agent as a child process (with <paramref name="environment"/> besides). Returns the agent.
    /// </summary>
    public async Task<ChildHost> AddFollowerAsync(
        string name, string followerDb, string gatewayUrl, IReadOnlyDictionary<string, string>? environment = null)
    {
        var agent = Track(ChildHost.Agent(name, followerDb, gatewayUrl, ChildHost.FreePort()));
        if (LogsEverything)
        {
            agent.LogEverything();
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            agent.WithEnvironment(key, value);
        }

        var init = await InitAsync(name, followerDb, agent.Url);
        _followers[name] = new WorldFollower(followerDb, agent.Url, init) { Child = agent };
        await agent.StartAsync();
        return agent;
    }

    /// <summary>
    /// Like <see cref="AddFollowerAsync(string, string, string, IReadOnlyDictionary{string, string}?)"/>, with the agent in this
    /// process (a real Kestrel host on a loopback port, HTTPS where <paramref name="settings"/> say so): cheaper where a
    /// test needs many followers and kills no agent. The agent starts first, so init records the URL it listens on.
    /// </summary>
    public async Task AddInProcessFollowerAsync(string name, string followerDb, string gatewayUrl, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var (app, url) = await WebHosts.StartAgentAsync(name, followerDb, gatewayUrl, settings);
        Track(app);
        var init = await InitAsync(name, followerDb, url);
        _followers[name] = new WorldFollower(followerDb, url, init) { App = app, Gateway = gatewayUrl, Settings = settings };
    }

    /// <summary>
    /// A follower on a fresh database of follower server <paramref name="server"/> whose recorded agent URL,
    /// <paramref name="agentUrl"/>, nothing listens on: pushes to it fail.
    /// </summary>
    public async Task<string> AddFollowerWithoutAgentAsync(string name, int server, string agentUrl)
    {
        var database = await _servers.CreateDatabaseAsync(_servers.FollowerServers[server], "follower");
        var init = await InitAsync(name, database, agentUrl);
        _followers[name] = new WorldFollower(database, agentUrl, init);
        return database;
    }

    /// <summary>Stops <paramref name="name"/>'s in-process agent: pushes to it fail with the connection refused.</summary>
    public async Task StopAgentAsync(string name)
    {
        var follower = _followers[name];
        var app = follower.App ?? throw new InvalidOperationException($"{name}'s agent is not running in process.");
        _apps.Remove(app);
        follower.App = null;
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Starts <paramref name="name"/>'s in-process agent again where the leader expects it (the same URL).</summary>
    public async Task RestartAgentAsync(string name)
    {
        var follower = _followers[name];
        var settings = new Dictionary<string, string?>(follower.Settings ?? new Dictionary<string, string?>()) { ["urls"] = follower.AgentUrl };
        var (app, _) = await WebHosts.StartAgentAsync(name, follower.Database, follower.Gateway!, settings);
        follower.App = Track(app);
    }

    /// <summary>Records follower <paramref name="name"/> as follower init does, with no database and no agent.</summary>
    public async Task RegisterFollowerAsync(string name) =>
        await Db.ExecuteAsync(Leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
            name, "default:host:" + name, "pr_" + name.Replace('/', '_').Replace('-', '_'));

    /// <summary>A token for <paramref name="login"/> from the gateway's authn endpoint.</summary>
    public async Task<string> AuthenticateAsync(string login, string apiKey)
    {
        using var response = await Http.PostAsync($"/authn/default/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>GET <paramref name="path"/> at the gateway, with <paramref name="token"/> as a bearer token when given.</summary>
    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Http.SendAsync(request);
    }

    /// <summary>
    /// Waits until <paramref name="follower"/>'s database holds exactly the leader's rows of its granted variables
    /// (ids, versions, bytes, expiry; the grant model's, see <see cref="TestWorldBuilder.GrantModel"/>) and nothing
    /// else; returns how long that took.
    /// </summary>
    public Task<TimeSpan> AwaitExactAsync(string follower, TimeSpan? deadline = null) =>
        AwaitExactAsync(follower, GrantedTo(follower), deadline);

    /// <summary>Waits until <paramref name="follower"/>'s database holds exactly the leader's rows of <paramref name="granted"/>.</summary>
    public async Task<TimeSpan> AwaitExactAsync(string follower, string[] granted, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        var limit = deadline ?? Eventually.DefaultDeadline;
        while (true)
        {
            var (expected, actual) = await ContentsAsync(follower, granted);
            if (expected.SequenceEqual(actual))
            {
                return clock.Elapsed;
            }

            if (clock.Elapsed > limit)
            {
                var missing = expected.Except(actual).ToList();
                var extra = actual.Except(expected).ToList();
                Assert.Fail($"{follower} did not hold exactly its granted secrets within {limit.TotalSeconds:0.#} s: " +
                    $"{expected.Count} expected rows, {actual.Count} held, {missing.Count} missing, {extra.Count} extra " +
                    $"(first missing: {missing.FirstOrDefault() ?? "none"}; first extra: {extra.FirstOrDefault() ?? "none"}).{Environment.NewLine}{OutputTails()}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>Whether the follower holds exactly its granted secrets right now.</summary>
    public async Task<bool> IsExactAsync(string follower)
    {
        var (expected, actual) = await ContentsAsync(follower, GrantedTo(follower));
        return expected.SequenceEqual(actual);
    }

    /// <summary>The follower agent's log of applied batches: gateway instance and the apply interval.</summary>
    public async Task<List<AppliedBatch>> ApplyLogAsync(string follower)
    {
        await using var connection = new NpgsqlConnection(FollowerDb(follower));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT batch_id, gateway, started_at, applied_at, variables, skipped FROM partial_replica.apply_log ORDER BY id", connection);
        var batches = new List<AppliedBatch>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            batches.Add(new AppliedBatch(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetDateTime(3), reader.GetInt32(4), reader.GetInt32(5)));
        }

        return batches;
    }

    /// <summary>Each follower's serving gateway as the leader records it (<c>delivery.gateway</c>; null when none).</summary>
    public async Task<Dictionary<string, string?>> ServedByAsync()
    {
        await using var connection = await LeaderSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT follower, gateway FROM partial_replica.delivery ORDER BY follower", connection);
        var served = new Dictionary<string, string?>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            served[reader.GetString(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        }

        return served;
    }

    /// <summary>The backend of a gateway's LISTEN connection on the leader, if one is listening.</summary>
    public async Task<int?> ListenBackendAsync() =>
        await Db.ScalarAsync<int?>(Leader, """
            SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1 AND query ILIKE 'LISTEN %'
             ORDER BY backend_start DESC LIMIT 1
            """, PartialReplica.Leader.Dispatch.Dispatcher.ListenApplicationName);

    /// <summary>The latest output of every child process, for failure messages.</summary>
    public string OutputTails() =>
        string.Join(Environment.NewLine, _hosts.Select(h => $"--- {h.Label} ({(h.IsRunning ? "running" : "stopped")}):{Environment.NewLine}{h.OutputTail}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        Http.Dispose();
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        // The followers share their servers with the collection's other tests: their subscriptions' apply workers
        // (16 a server) are given back, so the tests after this one can subscribe.
        foreach (var follower in _followers.Values.Where(f => f.Database.Length > 0))
        {
            await DisableSubscriptionsAsync(follower.Database);
        }

        await LeaderSource.DisposeAsync();
        if (_ownServers is not null)
        {
            await _ownServers.DisposeAsync();
        }
        else if (_ownsLeader)
        {
            await _servers.ReleaseLeaderAsync(Leader);
        }
    }

    internal async Task StartRedisAsync(string? password) => Redis = await RedisServer.StartAsync(password);

    private static async Task DisableSubscriptionsAsync(string followerDb)
    {
        List<string> subscriptions;
        try
        {
            subscriptions = await Db.ColumnAsync(followerDb,
                "SELECT subname::text FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
        }
        catch (NpgsqlException e) when (e.InnerException is System.Net.Sockets.SocketException)
        {
            // The test stopped this follower's server (a server of its own): no worker is left to give back.
            return;
        }

        foreach (var subscription in subscriptions)
        {
            await Db.ExecuteAsync(followerDb, $"ALTER SUBSCRIPTION {PartialReplica.Schema.SqlIdentifier.Quote(subscription)} DISABLE");
        }
    }

    private string[] GrantedTo(string follower) =>
        (_grantedTo ?? throw new InvalidOperationException("The world has no grant model: name the granted variables."))(follower);

    private void UseGateway(string url)
    {
        if (_gatewayUrl is null)
        {
            _gatewayUrl = url;
            Http.BaseAddress = new Uri(url);
        }
    }

    private async Task<FollowerInitResult> InitAsync(string name, string followerDb, string agentUrl)
    {
        await using var followerSource = NpgsqlDataSource.Create(followerDb);
        return await new FollowerInit(NullLogger.Instance).RunAsync(Leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agentUrl }, CancellationToken.None);
    }

    private async Task<(List<string> Expected, List<string> Actual)> ContentsAsync(string follower, string[] granted)
    {
        const string Rows = """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '')
              FROM secrets WHERE resource_id = ANY($1) ORDER BY 1
            """;
        const string AllRows = """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '')
              FROM secrets ORDER BY 1
            """;
        var expected = await Db.ColumnAsync(Leader, Rows, new object[] { granted });
        try
        {
            return (expected, await Db.ColumnAsync(FollowerDb(follower), AllRows));
        }
        catch (NpgsqlException)
        {
            // The follower's server is down (a fault test stopped it): it holds nothing we can see.
            return (expected, ["<follower database unreachable>"]);
        }
    }

    private sealed class WorldFollower(string database, string agentUrl, FollowerInitResult init)
    {
        public string Database { get; } = database;

        public string AgentUrl { get; } = agentUrl;

        public FollowerInitResult Init { get; } = init;

        public ChildHost? Child { get; init; }

        public WebApplication? App { get; set; }

        public string? Gateway { get; init; }

        public IReadOnlyDictionary<string, string?>? Settings { get; init; }
    }
}

/// <summary>One row of a follower's <c>partial_replica.apply_log</c>.</summary>
internal sealed record AppliedBatch(string BatchId, string Gateway, DateTime StartedAt, DateTime AppliedAt, int Variables, int Skipped);
