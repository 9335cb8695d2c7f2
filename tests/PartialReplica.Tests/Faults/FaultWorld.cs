using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// The world a fault test breaks: a leader with <c>policies/demo.yml</c> plus a few more variables per
/// group, followers east-1 and west-1 with their agents as child processes, and the grant model the
/// followers' contents are checked against. The model is written out here from the policy text, not
/// read from the leader's grant function, so a grant-resolution bug cannot hide a delivery bug.
/// </summary>
internal sealed class FaultWorld : IAsyncDisposable
{
    public const string East = "conjur/followers/east-1";
    public const string West = "conjur/followers/west-1";

    /// <summary>Followers made by <see cref="AddSitesAsync"/> are named this and a number; each receives the west set.</summary>
    public const string SitePrefix = "conjur/followers/site-";
    private const int ExtraPerGroup = 6;

    /// <summary>Granted to both followers (billing-readers, carried by both replica sets).</summary>
    public static readonly string[] Billing =
        ["default:variable:apps/billing/db/password", "default:variable:apps/billing/api/token", .. Numbered("apps/billing/burst")];

    /// <summary>Granted to east-1 only (secrets-readers, carried by the east set).</summary>
    public static readonly string[] Inventory = ["default:variable:apps/inventory/db/password", .. Numbered("apps/inventory/burst")];

    /// <summary>Granted to nobody.</summary>
    public static readonly string[] Hidden = ["default:variable:apps/inventory/reports/key", .. Numbered("apps/inventory/hidden")];

    public static readonly string[] All = [.. Billing, .. Inventory, .. Hidden];

    private readonly List<ChildHost> _hosts = [];
    private readonly List<Microsoft.AspNetCore.Builder.WebApplication> _agents = [];
    private readonly List<string> _inProcessFollowers = [];
    private readonly Dictionary<string, string> _followerDbs = new(StringComparer.Ordinal);

    private FaultWorld(string leader)
    {
        Leader = leader;
        LeaderSource = NpgsqlDataSource.Create(leader);
    }

    public string Leader { get; }

    public NpgsqlDataSource LeaderSource { get; }

    /// <summary>Encrypts values the way <c>secret set</c> does; the push path only ever copies the ciphertext.</summary>
    public Slosilo Crypto { get; } = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());

    /// <summary>Every variable's granted followers, from the policy text (see the class comment).</summary>
    public static string[] GrantedTo(string follower) => follower switch
    {
        East => [.. Billing, .. Inventory],
        West => Billing,
        _ when follower.StartsWith(SitePrefix, StringComparison.Ordinal) => Billing,
        _ => [],
    };

    /// <summary>
    /// Adds hosts <c>site-01</c>… to the policy, each a member of the west set's followers (so each receives
    /// <see cref="Billing"/>), and returns their follower names.
    /// </summary>
    public async Task<string[]> AddSitesAsync(int count)
    {
        var names = Enumerable.Range(1, count).Select(i => $"site-{i:D2}").ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var name in names)
        {
            text.AppendLine($"- !host {name}").AppendLine("- !grant").AppendLine("  role: !layer west-hosts").AppendLine($"  member: !host {name}");
        }

        await LoadPolicyAsync(text.ToString(), PolicyMode.Load, "conjur/followers");
        return [.. names.Select(n => "conjur/followers/" + n)];
    }

    /// <summary>
    /// Like <see cref="AddFollowerAsync"/>, with the agent in this process (a real Kestrel host on a loopback port):
    /// cheaper where a test needs many followers and kills only gateways.
    /// </summary>
    public async Task AddInProcessFollowerAsync(string name, string followerDb, string gatewayUrl)
    {
        var url = $"http://127.0.0.1:{ChildHost.FreePort()}";
        await using (var followerSource = NpgsqlDataSource.Create(followerDb))
        {
            await new FollowerInit(NullLogger.Instance).RunAsync(Leader, followerSource,
                new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = url }, CancellationToken.None);
        }

        _followerDbs[name] = followerDb;
        _inProcessFollowers.Add(name);
        var (agent, _) = await WebHosts.StartAgentAsync(name, followerDb, gatewayUrl, url: url);
        _agents.Add(agent);
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

    /// <summary>Pairs of batches from two different gateways whose apply intervals overlap, in the follower's apply log.</summary>
    public static List<string> Overlaps(List<AppliedBatch> log) =>
        (from x in log
         from y in log
         where string.CompareOrdinal(x.Gateway, y.Gateway) < 0
            && x.StartedAt < y.AppliedAt && y.StartedAt < x.AppliedAt
         select $"{x.Gateway} {x.StartedAt:O}..{x.AppliedAt:O} with {y.Gateway} {y.StartedAt:O}..{y.AppliedAt:O}").ToList();

    /// <summary>Loads the demo policy and the extra variables, and gives every variable a first version.</summary>
    public static async Task<FaultWorld> CreateAsync(string leader)
    {
        var world = new FaultWorld(leader);
        await world.LoadPolicyAsync(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")), PolicyMode.Load, "root");
        await world.LoadPolicyAsync(ExtraVariables("burst", "/apps/billing-readers"), PolicyMode.Load, "apps/billing");
        await world.LoadPolicyAsync(ExtraVariables("burst", "/apps/secrets-readers"), PolicyMode.Load, "apps/inventory");
        await world.LoadPolicyAsync(ExtraVariables("hidden", null), PolicyMode.Load, "apps/inventory");
        foreach (var id in All)
        {
            await world.SetSecretAsync(id, System.Text.Encoding.UTF8.GetBytes("first value of " + id));
        }

        return world;
    }

    /// <summary>Keeps <paramref name="host"/> to kill when the test ends.</summary>
    public ChildHost Track(ChildHost host)
    {
        _hosts.Add(host);
        return host;
    }

    /// <summary>
    /// Initialises <paramref name="followerDb"/> as follower <paramref name="name"/> with its agent's URL recorded,
    /// and starts that agent as a child process (with <paramref name="environment"/> besides). Returns the agent.
    /// </summary>
    public async Task<ChildHost> AddFollowerAsync(
        string name, string followerDb, string gatewayUrl, IReadOnlyDictionary<string, string>? environment = null)
    {
        var agent = Track(ChildHost.Agent(name, followerDb, gatewayUrl, ChildHost.FreePort()));
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            agent.WithEnvironment(key, value);
        }

        await using var followerSource = NpgsqlDataSource.Create(followerDb);
        await new FollowerInit(NullLogger.Instance).RunAsync(Leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agent.Url }, CancellationToken.None);
        _followerDbs[name] = followerDb;
        await agent.StartAsync();
        return agent;
    }

    public string FollowerDb(string name) => _followerDbs[name];

    public async Task LoadPolicyAsync(string text, PolicyMode mode, string branch) =>
        await new PolicyLoader(NullLogger.Instance).LoadAsync(LeaderSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = text, Mode = mode, Branch = branch }, CancellationToken.None);

    public async Task SetSecretAsync(string id, byte[] plaintext) =>
        await Db.ExecuteAsync(Leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, Crypto.Encrypt(plaintext, id));

    /// <summary>Starts writers that insert and delete secret versions until stopped.</summary>
    public BurstWriter StartWriting(int writers, int seed) => BurstWriter.Start(this, writers, seed);

    /// <summary>
    /// Waits until <paramref name="follower"/>'s database holds exactly the leader's rows of its granted variables
    /// (ids, versions, bytes, expiry) and nothing else; returns how long that took.
    /// </summary>
    public Task<TimeSpan> AwaitExactAsync(string follower, TimeSpan? deadline = null) =>
        AwaitExactAsync(follower, GrantedTo(follower), deadline);

    public async Task<TimeSpan> AwaitExactAsync(string follower, string[] granted, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        var (expected, actual) = (new List<string>(), new List<string>());
        var limit = deadline ?? Eventually.DefaultDeadline;
        while (true)
        {
            (expected, actual) = await ContentsAsync(follower, granted);
            if (expected.SequenceEqual(actual))
            {
                return clock.Elapsed;
            }

            if (clock.Elapsed > limit)
            {
                var missing = expected.Except(actual).Count();
                var extra = actual.Except(expected).Count();
                Assert.Fail($"{follower} did not hold exactly its granted secrets within {limit.TotalSeconds:0.#} s: " +
                    $"{expected.Count} expected rows, {actual.Count} held, {missing} missing, {extra} extra.{Environment.NewLine}{OutputTails()}");
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

    /// <summary>The backend of a gateway's LISTEN connection on the leader, if one is listening.</summary>
    public async Task<int?> ListenBackendAsync() =>
        await Db.ScalarAsync<int?>(Leader, """
            SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1 AND query ILIKE 'LISTEN %'
             ORDER BY backend_start DESC LIMIT 1
            """, PartialReplica.Leader.Dispatch.Dispatcher.ListenApplicationName);

    public string OutputTails() =>
        string.Join(Environment.NewLine, _hosts.Select(h => $"--- {h.Label} ({(h.IsRunning ? "running" : "stopped")}):{Environment.NewLine}{h.OutputTail}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var agent in _agents)
        {
            await agent.StopAsync();
            await agent.DisposeAsync();
        }

        // Many followers share the fixture's two follower servers: their subscriptions' apply workers (16 a server)
        // are given back, so the tests after this one can subscribe.
        foreach (var follower in _inProcessFollowers)
        {
            foreach (var subscription in await Db.ColumnAsync(_followerDbs[follower],
                         "SELECT subname::text FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"))
            {
                await Db.ExecuteAsync(_followerDbs[follower], $"ALTER SUBSCRIPTION {PartialReplica.Schema.SqlIdentifier.Quote(subscription)} DISABLE");
            }
        }

        await LeaderSource.DisposeAsync();
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

    private static IEnumerable<string> Numbered(string prefix) =>
        Enumerable.Range(0, ExtraPerGroup).Select(i => $"default:variable:{prefix}/{i}");

    private static string ExtraVariables(string name, string? readers)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < ExtraPerGroup; i++)
        {
            text.AppendLine($"- !variable {name}/{i}");
        }

        if (readers is not null)
        {
            text.AppendLine("- !permit").AppendLine($"  role: !group {readers}").AppendLine("  privilege: execute").AppendLine("  resources:");
            for (var i = 0; i < ExtraPerGroup; i++)
            {
                text.AppendLine($"  - !variable {name}/{i}");
            }
        }

        return text.ToString();
    }
}

/// <summary>One row of a follower's <c>partial_replica.apply_log</c>.</summary>
internal sealed record AppliedBatch(string BatchId, string Gateway, DateTime StartedAt, DateTime AppliedAt, int Variables, int Skipped);
