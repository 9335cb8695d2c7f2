using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Leader.Setup;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Tests.Gateway;

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "Gateway";
}

/// <summary>
/// One set-up leader and one gateway on a real Kestrel socket (127.0.0.1, free port) for all gateway tests.
/// Every test makes its own followers, replica sets and variables with unique names, so tests never see
/// each other's grants.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public const string Account = "default";
    public const string Issuer = "partial-replica-gateway";
    public const long BodyLimit = 64 * 1024;

    private PostgresCluster? _cluster;
    private WebApplication? _app;

    public string Leader { get; private set; } = "";

    public string AdminApiKey { get; private set; } = "";

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        IPostgresServer server;
        var existing = Environment.GetEnvironmentVariable("PARTIALREPLICA_TEST_PG");
        if (!string.IsNullOrEmpty(existing))
        {
            server = new ExistingServer(existing);
        }
        else
        {
            _cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "gateway" }, CancellationToken.None);
            server = _cluster;
        }

        Leader = server.ConnectionString(await server.CreateDatabaseAsync("gateway", CancellationToken.None));
        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(Leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        AdminApiKey = setup.AdminApiKey!;

        _app = StartGateway(Leader);
        await _app.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri(_app.Urls.Single()) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>A gateway (not started) on a free loopback port for the given leader.</summary>
    public static WebApplication StartGateway(string leader) => GatewayApplication.Build([], new Dictionary<string, string?>
    {
        ["urls"] = "http://127.0.0.1:0",
        ["Gateway:Leader"] = leader,
        ["Gateway:GatewayKey"] = TestGatewayKey.Base64,
        ["Gateway:DataKey"] = TestDataKey.Base64,
        ["Gateway:Account"] = Account,
        ["Gateway:Issuer"] = Issuer,
        ["Gateway:MaxRequestBodyBytes"] = BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Logging:LogLevel:Default"] = "Warning",
        // The unreachable-leader test makes the health check log an error with a stack trace on purpose.
        ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks"] = "None",
    });

    /// <summary>An issuer over the gateway's own keys, to forge tokens the gateway must refuse.</summary>
    public TokenIssuer ForgingIssuer(string issuer = Issuer) =>
        new(new SigningKeyRing(NpgsqlDataSource.Create(Leader), TestGatewayKey.Key, TimeProvider.System), issuer, TimeProvider.System);

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Exchanges an API key for a token; fails the test unless that works.</summary>
    public async Task<string> AuthenticateAsync(string login, string apiKey)
    {
        using var response = await Http.PostAsync(
            $"/authn/{Account}/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey, Encoding.UTF8, "text/plain"));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    public Task<string> AdminTokenAsync() => AuthenticateAsync("admin", AdminApiKey);

    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        }

        return await Http.SendAsync(request);
    }

    /// <summary>A registered follower host with an API key (rows as follower init writes them).</summary>
    public async Task<TestFollower> AddFollowerAsync(string? name = null)
    {
        name ??= "conjur/followers/" + Unique("f");
        var roleId = $"{Account}:host:{name}";
        var apiKey = ApiKeys.Generate();
        await RunAsync(
            ("INSERT INTO roles (role_id) VALUES ($1)", [roleId]),
            ("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2)", [roleId, $"{Account}:user:admin"]),
            ("INSERT INTO credentials (role_id, api_key) VALUES ($1, $2)", [roleId, ApiKeys.Protect(TestDataKey.Key, roleId, apiKey)]),
            ("INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)", [name, roleId, "pr_" + Guid.NewGuid().ToString("N")]),
            ("INSERT INTO partial_replica.delivery (follower) VALUES ($1)", [name]));
        return new TestFollower(name, roleId, apiKey, await AuthenticateAsync("host/" + name, apiKey));
    }

    /// <summary>
    /// Replica set <paramref name="set"/> as SPEC F4 shapes it: the webservice, its replicated-data group with
    /// execute on <paramref name="variables"/>, its followers layer with replicate on the webservice, and the
    /// followers as members of the layer. Variables are created when missing.
    /// </summary>
    public async Task GrantAsync(string set, IEnumerable<TestFollower> followers, params string[] variables)
    {
        var branch = $"conjur/replication-sets/{set}";
        var webservice = $"{Account}:webservice:{branch}";
        var group = $"{Account}:group:{branch}/replicated-data";
        var layer = $"{Account}:layer:{branch}/followers";
        var admin = $"{Account}:user:admin";
        var statements = new List<(string, object?[])>
        {
            ("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [webservice, admin]),
        };
        foreach (var role in new[] { group, layer })
        {
            statements.Add(("INSERT INTO roles (role_id) VALUES ($1) ON CONFLICT DO NOTHING", [role]));
            statements.Add(("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [role, admin]));
        }

        statements.Add(("INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('replicate', $1, $2) ON CONFLICT DO NOTHING", [webservice, layer]));
        statements.AddRange(followers.Select(f =>
            ("INSERT INTO role_memberships (role_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", new object?[] { layer, f.RoleId })));
        foreach (var variable in variables)
        {
            statements.Add(("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [VariableId(variable), admin]));
            statements.Add(("INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2) ON CONFLICT DO NOTHING", [VariableId(variable), group]));
        }

        await RunAsync([.. statements]);
    }

    /// <summary>Stores versions of a variable (created when missing); values are arbitrary bytes standing for ciphertext.</summary>
    public async Task AddSecretAsync(string variable, params byte[][] versions)
    {
        var statements = new List<(string, object?[])>
        {
            ("INSERT INTO resources (resource_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [VariableId(variable), $"{Account}:user:admin"]),
        };
        statements.AddRange(versions.Select(v => ("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", new object?[] { VariableId(variable), v })));
        await RunAsync([.. statements]);
    }

    public static string VariableId(string identifier) => $"{Account}:variable:{identifier}";

    public async Task RunAsync(params (string Sql, object?[] Parameters)[] statements)
    {
        await using var connection = new NpgsqlConnection(Leader);
        await connection.OpenAsync();
        // Set-up statements may write 100,000 rows through Conjur's triggers; on a busy 2-core machine
        // that can outlast Npgsql's default 30 s command timeout. They are set-up, not what is measured.
        await using var batch = new NpgsqlBatch(connection) { Timeout = 600 };
        foreach (var (sql, parameters) in statements)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter ?? DBNull.Value });
            }

            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
    }
}

/// <summary>A follower host made by <see cref="GatewayFixture.AddFollowerAsync"/>, with a fresh token.</summary>
public sealed record TestFollower(string Name, string RoleId, string ApiKey, string Token);
