using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Cli;
using PartialReplica.Configuration;
using PartialReplica.Conjur;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Deployment;

/// <summary>
/// SPEC U3 without Docker (our machines have none): docker-compose.yml and the Dockerfile are checked against
/// the code: every CLI verb and option parses with the real root command, every variable is one the code
/// reads, every host, port and URL points at a service that listens there, every probed route exists.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly string[] PostgresServices = ["leader", "relay", "follower-east", "follower-west"];
    private static readonly string[] Gateways = ["gateway", "gateway-b"];
    private static readonly string[] WebHosts = [.. Gateways, "agent-east", "agent-west"];

    // Variables the official postgres image documents (https://hub.docker.com/_/postgres); not ours to read.
    private static readonly string[] PostgresImageVariables = ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"];

    private readonly ComposeFile _compose = ComposeFile.Load();

    [Fact]
    public void Compose_runs_a_leader_two_followers_one_shot_setup_two_gateways_a_redis_and_two_agents()
    {
        Assert.Equal(
            ["agent-east", "agent-west", "follower-east", "follower-west", "gateway", "gateway-b", "init-east", "init-west", "leader", "load-policy", "redis", "relay", "sample-data", "setup"],
            _compose.Services.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["setup"], Verbs("setup"));
        Assert.Equal(["policy", "load"], Verbs("load-policy"));
        Assert.Equal(["follower", "init"], Verbs("init-east"));
        Assert.Equal(["follower", "init"], Verbs("init-west"));
        Assert.Equal(["serve", "gateway"], Verbs("gateway"));
        Assert.Equal(["serve", "gateway"], Verbs("gateway-b"));
        Assert.Equal(["serve", "follower"], Verbs("agent-east"));
        Assert.Equal(["serve", "follower"], Verbs("agent-west"));
    }

    [Fact]
    public void Postgres_servers_are_version_15_with_logical_wal_and_pg_isready()
    {
        foreach (var name in PostgresServices)
        {
            var service = _compose.Services[name];
            Assert.Equal("postgres:15", service.Image);
            Assert.Contains("wal_level=logical", service.Command);
            Assert.StartsWith("CMD pg_isready", service.HealthCheck, StringComparison.Ordinal);
            Assert.All(service.Environment.Keys, key => Assert.Contains(key, PostgresImageVariables));
        }
    }

    [Fact]
    public void Every_command_parses_with_the_cli_root_command()
    {
        foreach (var service in _compose.Services.Values.Where(s => s.IsBuilt))
        {
            var parse = new PartialReplicaRootCommand().Parse(service.Command.ToArray());
            Assert.True(parse.Errors.Count == 0, $"{service.Name}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            Assert.True(parse.CommandResult.Command.Action is not null, $"{service.Name}: '{string.Join(' ', service.Command)}' names no runnable verb");
        }
    }

    [Fact]
    public void Every_environment_variable_is_one_the_code_reads()
    {
        var read = VariablesReadByTheCode();
        Assert.Contains("PARTIALREPLICA_LEADER", read);
        foreach (var service in _compose.Services.Values.Where(s => s.IsBuilt))
        {
            foreach (var variable in service.Environment.Keys)
            {
                Assert.True(read.Contains(variable), $"{service.Name} sets {variable}, which no source file under src/ reads");
            }
        }

        // Each web host gets what its options require; the gateways share a Redis, each with an id of its own.
        foreach (var gateway in Gateways)
        {
            Assert.Contains("PARTIALREPLICA_LEADER", _compose.Services[gateway].Environment.Keys);
            Assert.Equal("redis:6379", _compose.Services[gateway].Environment["PARTIALREPLICA_REDIS"]);
            Assert.Equal($"http://127.0.0.1:{_compose.Services[gateway].Ports.Single().Split(':')[1]}", _compose.Services[gateway].Environment["PARTIALREPLICA_GATEWAY_PUBLIC_URL"]);
        }

        Assert.Equal(Gateways.Length, Gateways.Select(g => _compose.Services[g].Environment["PARTIALREPLICA_GATEWAY_ID"]).Distinct().Count());
        foreach (var agent in new[] { "agent-east", "agent-west" })
        {
            Assert.Contains("PARTIALREPLICA_FOLLOWER_DB", _compose.Services[agent].Environment.Keys);
            Assert.Contains("PARTIALREPLICA_GATEWAY_URL", _compose.Services[agent].Environment.Keys);
        }

        // The data key has no default: compose refuses to start without one rather than use a known key.
        Assert.Contains("${CONJUR_DATA_KEY:?", _compose.Services["setup"].Environment["CONJUR_DATA_KEY"], StringComparison.Ordinal);

        // Nor has the gateway key, and only the gateways get it: agents and one-shot steps never hold it (SPEC S5).
        foreach (var gateway in Gateways)
        {
            Assert.Contains("${PARTIALREPLICA_GATEWAY_KEY:?", _compose.Services[gateway].Environment["PARTIALREPLICA_GATEWAY_KEY"], StringComparison.Ordinal);
        }

        Assert.All(_compose.Services.Values.Where(s => !Gateways.Contains(s.Name)),
            s => Assert.DoesNotContain("PARTIALREPLICA_GATEWAY_KEY", s.Environment.Keys));
    }

    [Fact]
    public void Hosts_ports_and_urls_point_at_services_that_listen_there()
    {
        var gatewayPort = ListenPort("gateway");
        foreach (var name in WebHosts)
        {
            var service = _compose.Services[name];
            var port = ListenPort(name);
            var published = Assert.Single(service.Ports);
            Assert.Matches($@"^127\.0\.0\.1:\d+:{port}$", published);
            Assert.Contains($"/dev/tcp/127.0.0.1/{port}", service.HealthCheck);
            Assert.Contains("GET /health/ready ", service.HealthCheck);
        }

        foreach (var agent in new[] { "agent-east", "agent-west" })
        {
            Assert.Equal($"http://gateway:{gatewayPort}", _compose.Services[agent].Environment["PARTIALREPLICA_GATEWAY_URL"]);
            AssertDatabase(_compose.Services[agent].Environment["PARTIALREPLICA_FOLLOWER_DB"]);

            // The init that registers this agent's follower records the URL the agent listens on.
            var name = _compose.Services[agent].Option("--name");
            var init = Assert.Single(_compose.Services.Values, s => s.Command.Take(2).SequenceEqual(["follower", "init"]) && s.Option("--name") == name);
            Assert.Equal($"http://{agent}:{ListenPort(agent)}", init.Option("--agent-url"));
            Assert.Equal(_compose.Services[agent].Environment["PARTIALREPLICA_FOLLOWER_DB"], init.RawCommand[init.RawCommand.ToList().IndexOf("--db") + 1]);
            AssertDatabase(init.Option("--db")!);
            // Followers subscribe to the relay, never to the leader (S6).
            Assert.Equal("relay", init.Option("--publisher-host"));
            Assert.Equal("5432", init.Option("--publisher-port"));
        }

        foreach (var service in _compose.Services.Values.Where(s => s.Environment.ContainsKey("PARTIALREPLICA_LEADER")))
        {
            Assert.Equal("leader", AssertDatabase(service.Environment["PARTIALREPLICA_LEADER"]));
            // The relay's database is made by setup on the relay's server.
            var relay = new NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(ComposeFile.Interpolate(service.Environment["PARTIALREPLICA_RELAY"]), "compose"));
            Assert.Equal(("relay", 5432, "partial_replica_relay"), (relay.Host, relay.Port, relay.Database));
            Assert.Equal(ComposeFile.Interpolate(_compose.Services["relay"].Environment["POSTGRES_PASSWORD"]), relay.Password);
        }
    }

    [Fact]
    public void Dependencies_name_services_and_wait_for_health_or_completion()
    {
        string[] oneShots = ["setup", "load-policy", "sample-data", "init-east", "init-west"];
        foreach (var service in _compose.Services.Values)
        {
            foreach (var (dependency, condition) in service.DependsOn)
            {
                Assert.True(_compose.Services.ContainsKey(dependency), $"{service.Name} depends on unknown service {dependency}");
                Assert.Equal(oneShots.Contains(dependency) ? "service_completed_successfully" : "service_healthy", condition);
                Assert.True(oneShots.Contains(dependency) || _compose.Services[dependency].HealthCheck is not null, $"{dependency} has no health check");
            }
        }

        Assert.All(oneShots, s => Assert.Null(_compose.Services[s].Scalar("restart")));
        Assert.All(WebHosts, s => Assert.Equal("unless-stopped", _compose.Services[s].Scalar("restart")));
        foreach (var gateway in Gateways)
        {
            Assert.Superset(new HashSet<string>(["init-east", "init-west", "sample-data", "redis"]), _compose.Services[gateway].DependsOn.Keys.ToHashSet());
        }

        // Redis keeps counts and revocations only: nothing to save, and compose waits for it to answer.
        var redis = _compose.Services["redis"];
        Assert.Equal("redis:7", redis.Image);
        Assert.Equal(["redis-server", "--save", "", "--appendonly", "no"], redis.Command);
        Assert.Equal("CMD redis-cli ping", redis.HealthCheck);
    }

    [Fact]
    public void Probed_routes_and_the_policy_file_exist()
    {
        var leader = new Dictionary<string, string?> { ["Gateway:Leader"] = "Host=127.0.0.1;Database=none", ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(), ["Gateway:DataKey"] = Slosilo.GenerateBase64Key() };
        using var gateway = GatewayApplication.Build([], leader);
        using var agent = AgentApplication.Build([], new Dictionary<string, string?>
        {
            ["Agent:Name"] = "conjur/followers/east-1",
            ["Agent:Database"] = "Host=127.0.0.1;Database=none",
            ["Agent:GatewayUrl"] = "http://127.0.0.1:1",
        });

        Assert.Contains("/health/ready", Routes(gateway));
        Assert.Contains(Routes(gateway), r => r.StartsWith("/dashboard", StringComparison.Ordinal));
        Assert.Contains("/health/ready", Routes(agent));

        var policy = _compose.Services["load-policy"].Command[2];
        Assert.StartsWith("/app/policies/", policy, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_compose.Root, "policies", Path.GetFileName(policy))), policy);
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "policies", Path.GetFileName(policy))), "policies are copied beside the CLI");
    }

    [Fact]
    public void Dockerfile_publishes_the_cli_on_the_sdk_and_runs_it_on_aspnet()
    {
        var dockerfile = File.ReadAllText(Path.Combine(_compose.Root, "Dockerfile"));
        var stages = FromLine().Matches(dockerfile).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnet:10.0"], stages);

        var project = PublishLine().Match(dockerfile).Groups[1].Value;
        Assert.True(File.Exists(Path.Combine(_compose.Root, project)), project);
        var dll = typeof(PartialReplicaRootCommand).Assembly.GetName().Name + ".dll";
        Assert.Contains($"ENTRYPOINT [\"dotnet\", \"/app/{dll}\"]", dockerfile);
        foreach (var copied in CopyLine().Matches(dockerfile).SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
        {
            Assert.True(File.Exists(Path.Combine(_compose.Root, copied)) || Directory.Exists(Path.Combine(_compose.Root, copied)), $"COPY {copied}: not in the repository");
        }
    }

    private IReadOnlyList<string> Verbs(string service)
    {
        var parse = new PartialReplicaRootCommand().Parse(_compose.Services[service].Command.ToArray());
        var verbs = new List<string>();
        for (var result = parse.CommandResult; result.Parent is System.CommandLine.Parsing.CommandResult parent; result = parent)
        {
            verbs.Insert(0, result.Command.Name);
        }

        return verbs;
    }

    private int ListenPort(string service)
    {
        var urls = _compose.Services[service].Option("--urls");
        Assert.True(urls is not null, $"{service} has no --urls");
        return new Uri(urls).Port;
    }

    /// <summary>Asserts the connection names a postgres service on 5432 and its database; returns the host.</summary>
    private string AssertDatabase(string value)
    {
        var connection = new NpgsqlConnectionStringBuilder(ConnectionStrings.Normalize(ComposeFile.Interpolate(value), "compose"));
        Assert.Contains(connection.Host, PostgresServices);
        Assert.Equal(5432, connection.Port);
        var server = _compose.Services[connection.Host!];
        Assert.Equal(server.Environment["POSTGRES_DB"], connection.Database);
        Assert.Equal(ComposeFile.Interpolate(server.Environment["POSTGRES_PASSWORD"]), connection.Password);
        return connection.Host!;
    }

    private static HashSet<string> Routes(WebApplication app) => ((IEndpointRouteBuilder)app).DataSources
        .SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
        .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Every UPPER_CASE string literal in the product's sources: the variables it can read.</summary>
    private HashSet<string> VariablesReadByTheCode() => Directory
        .EnumerateFiles(Path.Combine(_compose.Root, "src"), "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
        .SelectMany(f => UpperCaseLiteral().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
        .ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex("\"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\"")]
    private static partial Regex UpperCaseLiteral();

    [GeneratedRegex(@"^FROM\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex FromLine();

    [GeneratedRegex(@"dotnet publish\s+(\S+\.csproj)")]
    private static partial Regex PublishLine();

    [GeneratedRegex(@"^COPY\s+(?!--from)(.+)\s+\S+$", RegexOptions.Multiline)]
    private static partial Regex CopyLine();
}
