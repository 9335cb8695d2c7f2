using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Dashboard;

/// <summary>
/// A leader with the demo policy, a gateway and two followers with real agents (east-1 and west-1), on servers of its
/// own. Every granted variable has a value except <see cref="InventoryDb"/>, which the tests set to watch the page change.
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

    private TestWorld? _world;

    internal TestWorld World => _world ?? throw new InvalidOperationException("The dashboard world has not started.");

    public async Task InitializeAsync() =>
        _world = await TestWorld.OnOwnServers(followerServers: 1)
            .DemoPolicy()
            .Secret(BillingDb, ValuePrefix + "billing-db")
            .Secret(BillingToken, ValuePrefix + "billing-token")
            .Gateway()
            .Follower(East)
            .Follower(West)
            .StartAsync();

    public async Task DisposeAsync()
    {
        if (_world is not null)
        {
            await _world.DisposeAsync();
        }
    }
}
