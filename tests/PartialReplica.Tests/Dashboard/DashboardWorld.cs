using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Dashboard;

/// <summary>
/// A leader with the demo policy, a gateway and two followers with real agents (east-1 and west-1).
/// Every granted variable has a value except <see cref="InventoryDb"/>, which the tests set to watch the
/// page change.
/// </summary>
public sealed class DashboardWorld : IAsyncLifetime
{
    public const string East = "conjur/followers/east-1";
    public const string West = "conjur/followers/west-1";
    public const string BillingDb = "default:variable:apps/billing/db/password";
    public const string BillingToken = "default:variable:apps/billing/api/token";
    public const string InventoryDb = "default:variable:apps/inventory/db/password";

    /// <summary>Plaintext every value starts with, so a test can prove none reaches the page.</summary>
    public const string ValuePrefix = "dashboard-secret-value-";

    private readonly ReplicationFixture _servers = new();
    private readonly List<WebApplication> _apps = [];
    private readonly Dictionary<string, (WebApplication App, string Url, string Database)> _agents = new(StringComparer.Ordinal);

    public Slosilo Crypto { get; } = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());

    public string Leader { get; private set; } = "";

    public string GatewayUrl { get; private set; } = "";

    public string AdminApiKey { get; private set; } = "";

    /// <summary>Each follower's API key (a non-admin caller).</summary>
    public Dictionary<string, string> FollowerApiKeys { get; } = new(StringComparer.Ordinal);

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync()
    {
        await _servers.InitializeAsync();
        var (leader, setup) = await _servers.CreateLeaderAsync();
        Leader = leader;
        AdminApiKey = setup.AdminApiKey!;
        await using (var dataSource = NpgsqlDataSource.Create(leader))
        {
            await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource, new PolicyLoadRequest
            {
                DataKey = TestDataKey.Key,
                PolicyText = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")),
                Mode = PolicyMode.Load,
                Branch = "root",
            }, CancellationToken.None);
        }

        await SetSecretAsync(BillingDb, "billing-db");
        await SetSecretAsync(BillingToken, "billing-token");

        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader);
        _apps.Add(gateway);
        GatewayUrl = gatewayUrl;
        Http.BaseAddress = new Uri(gatewayUrl);
        await StartFollowerAsync(0, East);
        await StartFollowerAsync(1, West);
    }

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        Http.Dispose();
        await _servers.DisposeAsync();
    }

    /// <summary>Adds a version to <paramref name="id"/> on the leader, encrypted as Conjur stores it.</summary>
    public Task SetSecretAsync(string id, string suffix) =>
        Db.ExecuteAsync(Leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, Crypto.Encrypt(Encoding.UTF8.GetBytes(ValuePrefix + suffix), id));

    /// <summary>
    /// Writes a new version of <paramref name="id"/> on the leader, one transaction after another, until
    /// <paramref name="cancellationToken"/> is cancelled; returns how many it wrote.
    /// </summary>
    public async Task<int> WriteBurstAsync(string id, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(Leader);
        var written = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await using var command = dataSource.CreateCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)");
            command.Parameters.AddWithValue(id);
            command.Parameters.AddWithValue(Crypto.Encrypt(Encoding.UTF8.GetBytes(ValuePrefix + "burst-" + written), id));
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            written++;
        }

        return written;
    }

    /// <summary>A token for <paramref name="login"/> from the gateway's authn endpoint.</summary>
    public async Task<string> AuthenticateAsync(string login, string apiKey)
    {
        using var response = await Http.PostAsync($"/authn/default/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Http.SendAsync(request);
    }

    /// <summary>Stops <paramref name="name"/>'s agent: pushes to it fail with the connection refused.</summary>
    public async Task StopAgentAsync(string name)
    {
        var agent = _agents[name];
        _apps.Remove(agent.App);
        await agent.App.StopAsync();
        await agent.App.DisposeAsync();
    }

    /// <summary>Starts <paramref name="name"/>'s agent again where the leader expects it (the same URL).</summary>
    public async Task RestartAgentAsync(string name)
    {
        var (_, url, database) = _agents[name];
        var (agent, _) = await WebHosts.StartAgentAsync(name, database, GatewayUrl, url: url);
        _apps.Add(agent);
        _agents[name] = (agent, url, database);
    }

    private async Task StartFollowerAsync(int server, string name)
    {
        var follower = await _servers.CreateDatabaseAsync(_servers.FollowerServers[server], "dashboard");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync(name, follower, GatewayUrl);
        _apps.Add(agent);
        _agents[name] = (agent, agentUrl, follower);
        await using var leaderSource = NpgsqlDataSource.Create(Leader);
        await using var followerSource = NpgsqlDataSource.Create(follower);
        var init = await new FollowerInit(NullLogger.Instance).RunAsync(Leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agentUrl }, CancellationToken.None);
        // The demo policy created the host, so init printed no key; a fresh one makes it a caller we can use.
        FollowerApiKeys[name] = init.ApiKey ?? (await ApiKeyAuthenticator.RotateAsync(leaderSource, init.RoleId, TestDataKey.Key, CancellationToken.None))!;
    }
}
