using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Explain;

/// <summary>
/// A leader with the demo policy, its two followers registered (rows as follower init writes them; no agents, as
/// explain needs none), a value for every variable, and a gateway on a loopback port, on a server of its own.
/// </summary>
public sealed class ExplainWorld : IAsyncLifetime
{
    /// <summary>Plaintext every value starts with, so a test can prove none is ever printed.</summary>
    public const string ValuePrefix = "explain-secret-value-";

    private TestWorld? _world;

    internal TestWorld World => _world ?? throw new InvalidOperationException("The explain world has not started.");

    /// <summary>east-1's API key: a caller that is not the admin.</summary>
    public string FollowerApiKey { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _world = await TestWorld.OnOwnServers(followerServers: 0)
            .DemoPolicy()
            .RegisteredFollower("conjur/followers/east-1")
            .RegisteredFollower("conjur/followers/west-1")
            .EveryVariableValued(variable => ValuePrefix + variable)
            .Gateway()
            .StartAsync();
        FollowerApiKey = await _world.ApiKeyAsync("conjur/followers/east-1");
    }

    public async Task DisposeAsync()
    {
        if (_world is not null)
        {
            await _world.DisposeAsync();
        }
    }
}
