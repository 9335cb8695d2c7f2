using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// The whole push path against real servers: leader with the demo policy, a gateway, two agents and
/// their follower databases. Each follower must hold exactly its granted set, byte for byte.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class PushEndToEndTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string Outsider = "conjur/followers/outsider";
    private static readonly string BillingDb = "default:variable:apps/billing/db/password";
    private static readonly string BillingToken = "default:variable:apps/billing/api/token";
    private static readonly string InventoryDb = "default:variable:apps/inventory/db/password";
    private static readonly string Nobody = "default:variable:apps/inventory/reports/key";

    [Fact]
    public async Task Each_follower_holds_exactly_its_granted_secrets_through_changes_and_revocation()
    {
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Secrets([BillingDb, BillingToken, InventoryDb, Nobody], id => "value of " + id)
            .Gateway()
            .Follower(East, 0)
            .Follower(West, 1)
            .Follower(Outsider, 0)
            .StartAsync();
        var leader = world.Leader;
        var (east, west, outsider) = (world.FollowerDb(East), world.FollowerDb(West), world.FollowerDb(Outsider));

        // Backfill of a new follower: exactly the granted set, all versions, byte-exact.
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb]);
        await world.AwaitExactAsync(West, [BillingDb, BillingToken]);

        // A grant added later is backfilled, whatever the id and value look like (R7).
        var big = new byte[64 * 1024];
        new Random(11).NextBytes(big);
        await world.LoadPolicyAsync("""
            - !variable
              id: "odd/ünï cödé \"quoted\" 'single'"
            - !permit
              role: !group /apps/billing-readers
              privilege: execute
              resource: !variable "odd/ünï cödé \"quoted\" 'single'"
            """, PolicyMode.Load, "apps/billing");
        const string Odd = "default:variable:apps/billing/odd/ünï cödé \"quoted\" 'single'";
        await world.SetSecretAsync(Odd, big);
        await world.SetSecretAsync(Odd, []);
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb, Odd]);
        await world.AwaitExactAsync(West, [BillingDb, BillingToken, Odd]);
        Assert.Equal(big, world.Crypto.Decrypt((await Db.ScalarAsync<byte[]>(east, "SELECT value FROM secrets WHERE resource_id = $1 AND version = 1", Odd))!, Odd));
        await world.AwaitExactAsync(Outsider, []);
        // The outsider (in no replica set) still receives every non-secret table.
        Assert.True(await Db.ScalarAsync<long>(outsider, "SELECT count(*) FROM resources WHERE resource_id = $1", Odd) == 1);

        // A new version reaches both holders; binary values with NUL bytes stay byte-exact.
        await world.SetSecretAsync(BillingDb, [0, 1, 0, 255, 0]);
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb, Odd]);
        await world.AwaitExactAsync(West, [BillingDb, BillingToken, Odd]);
        Assert.Equal(new byte[] { 0, 1, 0, 255, 0 }, world.Crypto.Decrypt(
            (await Db.ScalarAsync<byte[]>(west, "SELECT value FROM secrets WHERE resource_id = $1 AND version = 2", BillingDb))!, BillingDb));

        // Revocation: west-1 leaves the west set's followers layer and must lose every secret.
        await world.LoadPolicyAsync("""
            - !revoke
              role: !layer conjur/replication-sets/west/followers
              member: !layer conjur/followers/west-hosts
            """, PolicyMode.Update);
        await world.AwaitExactAsync(West, []);
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb, Odd]);

        // Deleting a secret version on the leader deletes it on the holder.
        await Db.ExecuteAsync(leader, "DELETE FROM secrets WHERE resource_id = $1 AND version = 1", BillingDb);
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb, Odd]);
        Assert.Equal(0L, await Db.ScalarAsync<long>(east, "SELECT count(*) FROM secrets WHERE resource_id = $1", Nobody));
        await world.AwaitExactAsync(Outsider, []);
    }

    /// <summary>
    /// A follower recorded after the gateway started is served when its agent URL commits (the followers table
    /// notifies, leader baseline), not at the gateway's next refresh, here an hour away.
    /// </summary>
    [Fact]
    public async Task A_follower_recorded_with_its_agent_is_served_at_once_not_at_the_next_refresh()
    {
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Secret(BillingDb, "value of " + BillingDb)
            .Gateway(new Dictionary<string, string?> { ["Dispatch:FollowersRefreshInterval"] = "01:00:00" })
            .StartAsync();

        await world.AddFollowerAsync(West, 1);

        await world.AwaitExactAsync(West, [BillingDb]);
    }
}
