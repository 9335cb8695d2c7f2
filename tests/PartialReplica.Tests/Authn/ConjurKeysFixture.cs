using System.Text;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// Two leaders, each with its own gateway holding the test run's data key: one whose schema this product made, one
/// whose schema Conjur's own migrations made (<see cref="ConjurSchema"/>). Push is off: these tests are about authn.
/// </summary>
public sealed class ConjurKeysFixture : IAsyncLifetime
{
    private readonly List<TestWorld> _worlds = [];

    public KeysLeader Product { get; private set; } = null!;

    public KeysLeader Conjur { get; private set; } = null!;

    public KeysLeader this[string schema] => schema == "conjur" ? Conjur : Product;

    public async Task InitializeAsync()
    {
        var worlds = await Task.WhenAll(StartAsync(conjurSchema: false), StartAsync(conjurSchema: true));
        _worlds.AddRange(worlds);
        (Product, Conjur) = (Leader(worlds[0]), Leader(worlds[1]));
    }

    public async Task DisposeAsync()
    {
        foreach (var world in _worlds)
        {
            await world.DisposeAsync();
        }
    }

    private static Task<TestWorld> StartAsync(bool conjurSchema)
    {
        var world = TestWorld.OnOwnServers(followerServers: 0);
        if (conjurSchema)
        {
            world.ConjurSchema();
        }

        return world.Gateway(new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" }).StartAsync();
    }

    private static KeysLeader Leader(TestWorld world) => new(world.Leader, world.AdminApiKey, world.Http);
}

/// <summary>A leader and its gateway.</summary>
public sealed record KeysLeader(string ConnectionString, string AdminApiKey, HttpClient Http)
{
    /// <summary>POST /authn/default/{login}/authenticate with <paramref name="apiKey"/> as the raw body.</summary>
    public async Task<HttpResponseMessage> AuthenticateAsync(string login, string apiKey) =>
        await Http.PostAsync($"/authn/default/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey, Encoding.UTF8, "text/plain"));
}
