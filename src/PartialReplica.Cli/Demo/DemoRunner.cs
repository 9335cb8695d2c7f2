using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Cli.Commands;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Relay;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Status;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Tooling.Samples;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;
using Spectre.Console;

namespace PartialReplica.Cli.Demo;

/// <summary>
/// F10: a throwaway leader and two followers on loopback, the gateway and two agents, the demo policy and
/// sample data; shows convergence, a change and a revocation, the status table, and proves each follower
/// holds exactly its granted set. Everything it starts, it removes.
/// </summary>
internal sealed class DemoRunner
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string Changed = "default:variable:apps/billing/db/password";
    private const string Nobody = "default:variable:apps/inventory/reports/key";
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(60);

    private readonly List<IAsyncDisposable> _owned = [];
    // The demo's own data key: secret values and API keys are encrypted with it, and the gateway holds it for API keys.
    private static readonly string DataKeyBase64 = Slosilo.GenerateBase64Key();
    private readonly Slosilo _crypto = Slosilo.FromBase64Key(DataKeyBase64);
    // The demo's own gateway key, thrown away with its clusters.
    private readonly string _gatewayKey = GatewayKey.GenerateBase64();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly DemoLogs _logs = new();
    private readonly ILogger _logger;
    private readonly List<PostgresCluster> _clusters = [];
    private RelayAdmin? _relay;

    public DemoRunner() => _logger = _logs.Demo.CreateLogger("demo");

    public async Task<int> RunAsync(int samples, CancellationToken cancellationToken)
    {
        var passed = false;
        try
        {
            passed = await RunStepsAsync(samples, cancellationToken);
            return passed ? ExitCode.Success : ExitCode.NotConverged;
        }
        finally
        {
            if (!passed)
            {
                // The servers' logs live in their data folders, which cleaning up removes: kept beside the hosts' logs.
                foreach (var cluster in _clusters.Where(c => File.Exists(c.LogPath)))
                {
                    File.Copy(cluster.LogPath, Path.Combine(_logs.Folder, Path.GetFileName(cluster.DataDirectory) + "-server.log"), overwrite: true);
                }
            }

            Step("cleaning up: stopping hosts and removing the clusters");
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                await _owned[i].DisposeAsync();
            }

            if (passed)
            {
                _logs.Remove();
            }
            else
            {
                _logs.Dispose();
                AnsiConsole.MarkupLine($"[red]A step failed.[/] The logs of the gateway, the agents, the servers and the demo are in [bold]{Markup.Escape(_logs.Folder)}[/]");
            }
        }
    }

    private async Task<bool> RunStepsAsync(int samples, CancellationToken cancellationToken)
    {
        Step("starting a throwaway leader and two follower PostgreSQL servers on 127.0.0.1");
        var clusters = await Task.WhenAll(
            PostgresCluster.StartAsync(new ClusterOptions { Name = "demo-leader" }, cancellationToken),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "demo-east" }, cancellationToken),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "demo-west" }, cancellationToken));
        _owned.AddRange(clusters);
        _clusters.AddRange(clusters);
        var databases = await Task.WhenAll(clusters.Select(c => c.CreateDatabaseAsync("conjur", cancellationToken)));
        var leaderConnection = clusters[0].ConnectionString(databases[0]);
        var leader = Own(NpgsqlDataSource.Create(leaderConnection));
        var eastDb = Own(NpgsqlDataSource.Create(clusters[1].ConnectionString(databases[1])));
        var westDb = Own(NpgsqlDataSource.Create(clusters[2].ConnectionString(databases[2])));
        _relay = Own(new RelayAdmin(leaderConnection, null));

        Step("partial-replica setup: schema, publication, capture trigger, and the relay followers subscribe to");
        await new LeaderSetup(_logger).RunAsync(leaderConnection, new SetupOptions { DataKey = _crypto }, cancellationToken);

        Step("loading policies/demo.yml: two replica sets (east, west), overlapping grants, one variable granted to nobody");
        var policy = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml"), cancellationToken);
        await LoadPolicyAsync(leader, policy, "demo.yml", PolicyMode.Load, cancellationToken);
        foreach (var id in new[] { Changed, "default:variable:apps/billing/api/token", "default:variable:apps/inventory/db/password", Nobody })
        {
            await SecretStore.SetAsync(leader, id, Encoding.UTF8.GetBytes($"initial value of {id}"), _crypto, cancellationToken);
        }

        Step($"loading {samples} sample variables into replica set east, values encrypted with a fresh data key");
        await LoadPolicyAsync(leader, SampleData.Policy("samples", samples, ["east"]), "samples.yml", PolicyMode.Load, cancellationToken);
        await SampleData.InsertValuesAsync(leader, SampleData.Identifiers("samples", samples).Select(i => "default:variable:" + i).ToList(), 32, _crypto, null, cancellationToken);

        Step("starting the gateway and two follower agents; follower init subscribes each follower");
        var gatewayUrl = await StartAsync("gateway", GatewayApplication.Build([], new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = leaderConnection,
            ["Gateway:GatewayKey"] = _gatewayKey,
            ["Gateway:DataKey"] = DataKeyBase64,
            ["urls"] = "http://127.0.0.1:0",
            ["Dispatch:FollowersRefreshInterval"] = "00:00:00.250",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:Console:LogLevel:Default"] = "None",
        }), cancellationToken);
        foreach (var (name, cluster, database, dataSource) in new[] { (East, clusters[1], databases[1], eastDb), (West, clusters[2], databases[2], westDb) })
        {
            var agentUrl = await StartAsync("agent-" + StatusTable.Short(name), AgentApplication.Build([], new Dictionary<string, string?>
            {
                ["Agent:Name"] = name,
                ["Agent:Database"] = cluster.ConnectionString(database),
                ["Agent:GatewayUrl"] = gatewayUrl,
                ["urls"] = "http://127.0.0.1:0",
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:Console:LogLevel:Default"] = "None",
            }), cancellationToken);
            await new FollowerInit(_logger).RunAsync(leaderConnection, dataSource, new FollowerInitOptions { Name = name, AgentUrl = agentUrl, DataKey = _crypto }, cancellationToken);
        }

        Step("waiting for both followers to converge (delivered = granted, nothing pending)");
        var start = _clock.Elapsed;
        await ConvergeAsync(leader, cancellationToken);
        AnsiConsole.MarkupLine($"  converged in [green]{(_clock.Elapsed - start).TotalSeconds:0.00} s[/]");
        Console.Out.Write(StatusCommand.Render(await StatusCommand.ReadAsync(leader, GatewayKey.FromBase64(_gatewayKey), cancellationToken, _relay)));

        Step($"changing {Changed} on the leader (a new version)");
        await SecretStore.SetAsync(leader, Changed, Encoding.UTF8.GetBytes("rotated value"), _crypto, cancellationToken);
        await ConvergeAsync(leader, cancellationToken);
        var (version, value) = await SecretStore.GetAsync(westDb, Changed, null, _crypto, cancellationToken);
        AnsiConsole.MarkupLine($"  west-1 decrypts version {version} with the data key: [green]{Markup.Escape(Encoding.UTF8.GetString(value))}[/]");

        Step("revoking: west-1 leaves the west replica set's followers layer (policy update)");
        await LoadPolicyAsync(leader, """
            - !revoke
              role: !layer conjur/replication-sets/west/followers
              member: !layer conjur/followers/west-hosts
            """, "revoke.yml", PolicyMode.Update, cancellationToken);
        await ConvergeAsync(leader, cancellationToken);

        Step("status");
        Console.Out.Write(StatusCommand.Render(await StatusCommand.ReadAsync(leader, GatewayKey.FromBase64(_gatewayKey), cancellationToken, _relay)));

        Step("proving each follower holds exactly its granted set, byte for byte, and nothing else");
        var ok = true;
        foreach (var (name, dataSource) in new[] { (East, eastDb), (West, westDb) })
        {
            var result = await FollowerVerifier.VerifyAsync(leader, dataSource, "default:host:" + name, cancellationToken);
            var holdsNobody = await CountAsync(dataSource, Nobody, cancellationToken) > 0;
            ok &= result.Exact && !holdsNobody;
            AnsiConsole.MarkupLine(result.Exact && !holdsNobody
                ? $"  [green]✓[/] {name}: exactly {result.Expected} granted secret versions; {Markup.Escape(Nobody)} absent"
                : $"  [red]✗[/] {name}: {result.Missing.Count} missing, {result.Extra.Count} extra, holds nobody's variable: {holdsNobody}");
        }

        AnsiConsole.MarkupLine(ok ? $"[green]Demo passed[/] in {_clock.Elapsed.TotalSeconds:0.0} s." : "[red]Demo FAILED[/]: a follower does not hold exactly its granted set.");
        return ok;
    }

    private async Task ConvergeAsync(NpgsqlDataSource leader, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        IReadOnlyList<FollowerStatusRow> rows = [];
        while (deadline.Elapsed < ConvergeTimeout)
        {
            rows = await StatusCommand.ReadAsync(leader, GatewayKey.FromBase64(_gatewayKey), cancellationToken, _relay);
            if (rows.Count == 2 && rows.All(r => r.Pending == 0 && r.Delivered == r.Granted && r.Subscription == "streaming"))
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        Console.Out.Write(StatusCommand.Render(rows));
        throw new PartialReplicaException($"The followers did not converge within {ConvergeTimeout.TotalSeconds:0} s.");
    }

    private async Task LoadPolicyAsync(NpgsqlDataSource leader, string text, string file, PolicyMode mode, CancellationToken cancellationToken) =>
        await new PolicyLoader(_logger).LoadAsync(leader, new PolicyLoadRequest { PolicyText = text, FileName = file, Branch = "root", Mode = mode, DataKey = _crypto }, cancellationToken);

    /// <summary>Starts a host whose log goes to <c>{name}.log</c> in the demo's folder (its console logging is off).</summary>
    private async Task<string> StartAsync(string name, WebApplication app, CancellationToken cancellationToken)
    {
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(_logs.Provider(name));
        _owned.Add(app);
        await app.StartAsync(cancellationToken);
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    private static async Task<long> CountAsync(NpgsqlDataSource database, string id, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT count(*) FROM secrets WHERE resource_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private T Own<T>(T disposable)
        where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private void Step(string what) =>
        AnsiConsole.MarkupLine($"[grey]{_clock.Elapsed.TotalSeconds,6:0.0}s[/] [bold]{Markup.Escape(what)}[/]");
}
