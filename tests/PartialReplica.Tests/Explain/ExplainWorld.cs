using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Clusters;

namespace PartialReplica.Tests.Explain;

/// <summary>
/// A leader with the demo policy, its two followers registered (rows as follower init writes them; no agents, as
/// explain needs none), a value for every variable, and a gateway on a loopback port.
/// </summary>
public sealed class ExplainWorld : IAsyncLifetime
{
    /// <summary>Plaintext every value starts with, so a test can prove none is ever printed.</summary>
    public const string ValuePrefix = "explain-secret-value-";

    private PostgresCluster? _cluster;
    private WebApplication? _gateway;

    public string Leader { get; private set; } = "";

    public string AdminApiKey { get; private set; } = "";

    /// <summary>east-1's API key: a caller that is not the admin.</summary>
    public string FollowerApiKey { get; private set; } = "";

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

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
            _cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = "explain" }, CancellationToken.None);
            server = _cluster;
        }

        Leader = server.ConnectionString(await server.CreateDatabaseAsync("explain", CancellationToken.None));
        // A shared server (PARTIALREPLICA_TEST_PG) keeps its one default relay for other tests: none here.
        var setup = new SetupOptions { DataKey = TestDataKey.Key, CreateRelay = _cluster is not null };
        AdminApiKey = (await new LeaderSetup(NullLogger.Instance).RunAsync(Leader, setup, CancellationToken.None)).AdminApiKey!;
        await ReplicationFixture.LoadDemoPolicyAsync(Leader);
        foreach (var name in new[] { "conjur/followers/east-1", "conjur/followers/west-1" })
        {
            await Db.ExecuteAsync(Leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
                name, "default:host:" + name, "pr_" + name.Replace('/', '_').Replace('-', '_'));
        }

        await using (var leader = NpgsqlDataSource.Create(Leader))
        {
            FollowerApiKey = (await ApiKeyAuthenticator.RotateAsync(leader, "default:host:conjur/followers/east-1", TestDataKey.Key, CancellationToken.None))!;
        }

        var crypto = Slosilo.FromBase64Key(TestDataKey.Base64);
        foreach (var variable in await Db.ColumnAsync(Leader, "SELECT resource_id FROM resources WHERE split_part(resource_id, ':', 2) = 'variable'"))
        {
            await Db.ExecuteAsync(Leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)",
                variable, crypto.Encrypt(Encoding.UTF8.GetBytes(ValuePrefix + variable), variable));
        }

        (_gateway, var url) = await WebHosts.StartGatewayAsync(Leader);
        Http.BaseAddress = new Uri(url);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

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
}
