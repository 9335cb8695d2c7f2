using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// The whole push path against real servers: leader with the demo policy, a gateway, two agents and
/// their follower databases. Each follower must hold exactly its granted set, byte for byte.
/// </summary>
public sealed class PushEndToEndTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>, IAsyncLifetime
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private static readonly string BillingDb = "default:variable:apps/billing/db/password";
    private static readonly string BillingToken = "default:variable:apps/billing/api/token";
    private static readonly string InventoryDb = "default:variable:apps/inventory/db/password";
    private static readonly string Nobody = "default:variable:apps/inventory/reports/key";

    private readonly List<WebApplication> _apps = [];
    private readonly Slosilo _crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Each_follower_holds_exactly_its_granted_secrets_through_changes_and_revocation()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await ReplicationFixture.LoadDemoPolicyAsync(leader);
        foreach (var id in new[] { BillingDb, BillingToken, InventoryDb, Nobody })
        {
            await SetSecretAsync(leader, id, Encoding.UTF8.GetBytes("value of " + id));
        }

        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader);
        _apps.Add(gateway);
        var east = await StartFollowerAsync(leader, 0, East, gatewayUrl);
        var west = await StartFollowerAsync(leader, 1, West, gatewayUrl);
        var outsider = await StartFollowerAsync(leader, 0, "conjur/followers/outsider", gatewayUrl);

        // Backfill of a new follower: exactly the granted set, all versions, byte-exact.
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb]);
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken]);

        // A grant added later is backfilled, whatever the id and value look like (R7).
        var big = new byte[64 * 1024];
        new Random(11).NextBytes(big);
        await LoadPolicyAsync(leader, """
            - !variable
              id: "odd/ünï cödé \"quoted\" 'single'"
            - !permit
              role: !group /apps/billing-readers
              privilege: execute
              resource: !variable "odd/ünï cödé \"quoted\" 'single'"
            """, PolicyMode.Load, "apps/billing");
        const string Odd = "default:variable:apps/billing/odd/ünï cödé \"quoted\" 'single'";
        await SetSecretAsync(leader, Odd, big);
        await SetSecretAsync(leader, Odd, []);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb, Odd]);
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken, Odd]);
        Assert.Equal(big, _crypto.Decrypt((await Db.ScalarAsync<byte[]>(east, "SELECT value FROM secrets WHERE resource_id = $1 AND version = 1", Odd))!, Odd));
        await AwaitExactAsync(leader, outsider, []);
        // The outsider (in no replica set) still receives every non-secret table.
        Assert.True(await Db.ScalarAsync<long>(outsider, "SELECT count(*) FROM resources WHERE resource_id = $1", Odd) == 1);

        // A new version reaches both holders; binary values with NUL bytes stay byte-exact.
        await SetSecretAsync(leader, BillingDb, [0, 1, 0, 255, 0]);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb, Odd]);
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken, Odd]);
        Assert.Equal(new byte[] { 0, 1, 0, 255, 0 }, _crypto.Decrypt(
            (await Db.ScalarAsync<byte[]>(west, "SELECT value FROM secrets WHERE resource_id = $1 AND version = 2", BillingDb))!, BillingDb));

        // Revocation: west-1 leaves the west set's followers layer and must lose every secret.
        await LoadPolicyAsync(leader, """
            - !revoke
              role: !layer conjur/replication-sets/west/followers
              member: !layer conjur/followers/west-hosts
            """, PolicyMode.Update);
        await AwaitExactAsync(leader, west, []);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb, Odd]);

        // Deleting a secret version on the leader deletes it on the holder.
        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = $1 AND version = 1", BillingDb);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb, Odd]);
        Assert.Equal(0L, await Db.ScalarAsync<long>(east, "SELECT count(*) FROM secrets WHERE resource_id = $1", Nobody));
        await AwaitExactAsync(leader, outsider, []);
    }

    /// <summary>
    /// A follower recorded after the gateway started is served when its agent URL commits (the followers table
    /// notifies, leader baseline), not at the gateway's next refresh, here an hour away.
    /// </summary>
    [Fact]
    public async Task A_follower_recorded_with_its_agent_is_served_at_once_not_at_the_next_refresh()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await ReplicationFixture.LoadDemoPolicyAsync(leader);
        await SetSecretAsync(leader, BillingDb, Encoding.UTF8.GetBytes("value of " + BillingDb));
        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?>
        {
            ["Dispatch:FollowersRefreshInterval"] = "01:00:00",
        });
        _apps.Add(gateway);

        var west = await StartFollowerAsync(leader, 1, West, gatewayUrl);

        await AwaitExactAsync(leader, west, [BillingDb]);
    }

    private async Task<string> StartFollowerAsync(string leader, int server, string name, string gatewayUrl)
    {
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[server], "push");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync(name, follower, gatewayUrl);
        _apps.Add(agent);
        await using var followerSource = NpgsqlDataSource.Create(follower);
        await new FollowerInit(NullLogger.Instance).RunAsync(leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agentUrl }, CancellationToken.None);
        return follower;
    }

    private static async Task LoadPolicyAsync(string leader, string text, PolicyMode mode, string branch = "root")
    {
        await using var dataSource = NpgsqlDataSource.Create(leader);
        await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = text, Mode = mode, Branch = branch }, CancellationToken.None);
    }

    private async Task SetSecretAsync(string leader, string id, byte[] plaintext) =>
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, _crypto.Encrypt(plaintext, id));

    /// <summary>Waits until the follower's secrets equal the leader's rows for exactly <paramref name="granted"/>.</summary>
    private static async Task AwaitExactAsync(string leader, string follower, string[] granted)
    {
        const string rows = """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '')
              FROM secrets WHERE resource_id = ANY($1) ORDER BY 1
            """;
        const string all = """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '')
              FROM secrets ORDER BY 1
            """;
        List<string> expected = [];
        List<string> actual = [];
        try
        {
            await Eventually.HoldsAsync(async () =>
            {
                expected = await Db.ColumnAsync(leader, rows, new object[] { granted });
                actual = await Db.ColumnAsync(follower, all);
                return expected.SequenceEqual(actual);
            }, $"follower holds exactly {string.Join(", ", granted)}");
        }
        catch (Xunit.Sdk.FailException)
        {
            Assert.Equal(expected, actual);
            throw;
        }
    }
}
