using System.Text;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>Where a world's gateway or a follower's agent runs.</summary>
internal enum HostKind
{
    /// <summary>A real Kestrel host in the test process (<see cref="WebHosts"/>): cheap, its log capturable.</summary>
    InProcess,

    /// <summary>The real binary as a child process (<see cref="ChildHost"/>): a test can SIGKILL it.</summary>
    ChildProcess,
}

/// <summary>
/// Describes a <see cref="TestWorld"/> (a leader, its policy and secrets, a gateway, followers with their agents)
/// and starts it. Steps run in the order they are described, after the leader is made; for example
/// <c>TestWorld.On(fixture).DemoPolicy().Secret(id, "v").Gateway().Follower(east, 0).StartAsync()</c>.
/// </summary>
internal sealed class TestWorldBuilder
{
    private readonly ReplicationFixture? _servers;
    private readonly int _ownFollowerServers;
    private readonly List<Func<TestWorld, Task>> _steps = [];
    private string? _leader;
    private bool _conjurSchema;
    private bool _redis;
    private string? _redisPassword;
    private bool _logEverything;
    private Func<string, string[]>? _grantedTo;

    internal TestWorldBuilder(ReplicationFixture? servers, int ownFollowerServers)
    {
        _servers = servers;
        _ownFollowerServers = ownFollowerServers;
    }

    /// <summary>Uses <paramref name="leader"/> (setup already run; the test owns its server) instead of a fresh leader.</summary>
    public TestWorldBuilder OnLeader(string leader)
    {
        _leader = leader;
        return this;
    }

    /// <summary>The fresh leader's database is made by Conjur's own migrations first, and setup adopts it.</summary>
    public TestWorldBuilder ConjurSchema()
    {
        _conjurSchema = true;
        return this;
    }

    /// <summary>Loads <c>policies/demo.yml</c> into the root branch.</summary>
    public TestWorldBuilder DemoPolicy() =>
        Policy(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")));

    public TestWorldBuilder Policy(string text, string branch = "root", PolicyMode mode = PolicyMode.Load) =>
        Step(world => world.LoadPolicyAsync(text, mode, branch));

    /// <summary>Adds a version of <paramref name="id"/> on the leader, encrypted as Conjur stores it.</summary>
    public TestWorldBuilder Secret(string id, byte[] plaintext) => Step(world => world.SetSecretAsync(id, plaintext));

    public TestWorldBuilder Secret(string id, string plaintext) => Secret(id, Encoding.UTF8.GetBytes(plaintext));

    /// <summary>Adds a version of each of <paramref name="ids"/>, whose plaintext is <paramref name="plaintext"/> of its id.</summary>
    public TestWorldBuilder Secrets(IEnumerable<string> ids, Func<string, string> plaintext)
    {
        foreach (var id in ids)
        {
            Secret(id, plaintext(id));
        }

        return this;
    }

    /// <summary>Gives every variable on the leader a version whose plaintext is <paramref name="plaintext"/> of its id.</summary>
    public TestWorldBuilder EveryVariableValued(Func<string, string> plaintext) => Step(async world =>
    {
        foreach (var variable in await Db.ColumnAsync(world.Leader, "SELECT resource_id FROM resources WHERE split_part(resource_id, ':', 2) = 'variable'"))
        {
            await world.SetSecretAsync(variable, Encoding.UTF8.GetBytes(plaintext(variable)));
        }
    });

    /// <summary>
    /// The followers' granted variables as the test's model states them (written from the policy text, not read
    /// from the leader's grant function); <see cref="TestWorld.AwaitExactAsync(string, TimeSpan?)"/> checks against it.
    /// </summary>
    public TestWorldBuilder GrantModel(Func<string, string[]> grantedTo)
    {
        _grantedTo = grantedTo;
        return this;
    }

    /// <summary>
    /// Starts a redis-server (requiring <paramref name="password"/> when given) the world's gateway shares its state
    /// through (<c>Gateway:Redis</c>).
    /// </summary>
    public TestWorldBuilder Redis(string? password = null)
    {
        _redis = true;
        _redisPassword = password;
        return this;
    }

    /// <summary>The world's gateway, in process with <paramref name="settings"/> besides the test defaults.</summary>
    public TestWorldBuilder Gateway(IReadOnlyDictionary<string, string?>? settings = null) =>
        Step(world => world.StartGatewayAsync(settings));

    /// <summary>The world's gateway as a child process, instance <paramref name="instanceId"/>.</summary>
    public TestWorldBuilder ChildGateway(string instanceId) => Step(world => world.StartChildGatewayAsync(instanceId));

    /// <summary>Child processes the world starts log at Trace level and keep every line (for tests that read whole logs).</summary>
    public TestWorldBuilder LogEverything()
    {
        _logEverything = true;
        return this;
    }

    /// <summary>
    /// A follower named <paramref name="name"/> on follower server <paramref name="server"/>: a fresh database, follower
    /// init with its agent's URL, and its agent serving the world's gateway with <paramref name="settings"/> besides the
    /// test defaults (configuration keys, <c>Agent:ReplayTimeout</c>; the environment's <c>Agent__ReplayTimeout</c> for a child process).
    /// </summary>
    public TestWorldBuilder Follower(string name, int server = 0, HostKind agent = HostKind.InProcess, IReadOnlyDictionary<string, string?>? settings = null) =>
        Step(async world => await world.AddFollowerAsync(name, server, agent, settings));

    /// <summary>A follower like <see cref="Follower"/> whose agent URL is <paramref name="agentUrl"/>, where no agent listens.</summary>
    public TestWorldBuilder FollowerWithoutAgent(string name, int server, string agentUrl) =>
        Step(async world => await world.AddFollowerWithoutAgentAsync(name, server, agentUrl));

    /// <summary>A follower row as follower init writes it, with no database and no agent (for tests that read only the leader).</summary>
    public TestWorldBuilder RegisteredFollower(string name) => Step(world => world.RegisterFollowerAsync(name));

    /// <summary>Runs <paramref name="step"/> at this point of the build (e.g. to listen to the gateway before followers join).</summary>
    public TestWorldBuilder Then(Func<TestWorld, Task> step) => Step(step);

    public async Task<TestWorld> StartAsync()
    {
        var servers = _servers;
        var ownServers = servers is null ? await ReplicationFixture.StartAsync(_ownFollowerServers) : null;
        servers ??= ownServers!;
        var createdLeader = _leader is null;
        var leader = _leader;
        SetupResult? setup = null;
        try
        {
            if (leader is null)
            {
                (leader, setup) = await servers.CreateLeaderAsync(_conjurSchema);
            }
        }
        catch
        {
            if (ownServers is not null)
            {
                await ownServers.DisposeAsync();
            }

            throw;
        }

        var world = new TestWorld(servers, ownServers, leader, createdLeader, setup, _grantedTo) { LogsEverything = _logEverything };
        try
        {
            if (_redis)
            {
                await world.StartRedisAsync(_redisPassword);
            }

            foreach (var step in _steps)
            {
                await step(world);
            }

            return world;
        }
        catch
        {
            await world.DisposeAsync();
            throw;
        }
    }

    private TestWorldBuilder Step(Func<TestWorld, Task> step)
    {
        _steps.Add(step);
        return this;
    }
}
