using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using PartialReplica.Leader.Setup;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Clusters;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// Two leaders, each with its own gateway holding the test run's data key: one whose schema this product made, one
/// whose schema Conjur's own migrations made (<see cref="ConjurSchema"/>). Push is off: these tests are about authn.
/// </summary>
public sealed class ConjurKeysFixture : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    public KeysLeader Product { get; private set; } = null!;

    public KeysLeader Conjur { get; private set; } = null!;

    public KeysLeader this[string schema] => schema == "conjur" ? Conjur : Product;

    public async Task InitializeAsync()
    {
        var leaders = await Task.WhenAll(StartAsync("keys-product", conjurSchema: false), StartAsync("keys-conjur", conjurSchema: true));
        (Product, Conjur) = (leaders[0], leaders[1]);
    }

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private async Task<KeysLeader> StartAsync(string name, bool conjurSchema)
    {
        var cluster = await PostgresCluster.StartAsync(new ClusterOptions { Name = name }, CancellationToken.None);
        lock (_owned)
        {
            _owned.Add(cluster);
        }

        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("conjur", CancellationToken.None));
        if (conjurSchema)
        {
            await ConjurSchema.LoadAsync(leader);
        }

        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        var (app, url) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" });
        lock (_owned)
        {
            _owned.Add(app);
        }

        return new KeysLeader(leader, setup.AdminApiKey!, new HttpClient { BaseAddress = new Uri(url) });
    }
}

/// <summary>A leader and its gateway.</summary>
public sealed record KeysLeader(string ConnectionString, string AdminApiKey, HttpClient Http)
{
    /// <summary>POST /authn/default/{login}/authenticate with <paramref name="apiKey"/> as the raw body.</summary>
    public async Task<HttpResponseMessage> AuthenticateAsync(string login, string apiKey) =>
        await Http.PostAsync($"/authn/default/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey, Encoding.UTF8, "text/plain"));
}
