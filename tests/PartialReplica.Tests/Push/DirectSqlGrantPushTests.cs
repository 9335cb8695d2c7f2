using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// F5/F6 (issue 21): grants changed on the leader with plain SQL, the way Conjur's policy loader writes them, reach
/// the followers with no notify, no policy load through the product and no reconcile: each follower ends with
/// exactly its granted secrets, and a follower whose set did not change is sent nothing.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DirectSqlGrantPushTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string West = "conjur/followers/west-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";
    private const string BillingToken = "default:variable:apps/billing/api/token";
    private const string InventoryDb = "default:variable:apps/inventory/db/password";
    private const string ReportsKey = "default:variable:apps/inventory/reports/key";
    private const string WestFollowers = "default:layer:conjur/replication-sets/west/followers";
    private const string WestHosts = "default:layer:conjur/followers/west-hosts";
    private const string WestData = "default:group:conjur/replication-sets/west/replicated-data";
    private const string Revoke = "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2";
    private const string Grant = "INSERT INTO role_memberships (role_id, member_id, policy_id) VALUES ($1, $2, 'default:policy:root')";

    [Fact]
    public async Task Grants_changed_with_sql_reach_exactly_the_followers_whose_set_changed()
    {
        await using var world = await WorldAsync();
        var (leader, east) = (world.Leader, world.FollowerDb(East));

        // Revoked with plain SQL, no notify: west-1 loses its secrets; east-1, whose set did not change, is sent nothing.
        var eastBatches = await BatchesAsync(east);
        await Db.ExecuteAsync(leader, Revoke, WestFollowers, WestHosts);
        await world.AwaitExactAsync(West, []);
        await world.SetSecretAsync(InventoryDb, "a write only east-1 is granted");
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb]);
        Assert.Equal(eastBatches + 1, await BatchesAsync(east));

        // Granted back by INSERT.
        await Db.ExecuteAsync(leader, Grant, WestFollowers, WestHosts);
        await world.AwaitExactAsync(West, [BillingDb, BillingToken]);

        // A revoke and a re-grant committed back to back: ends granted.
        await Db.ExecuteAsync(leader, Revoke, WestFollowers, WestHosts);
        await Db.ExecuteAsync(leader, Grant, WestFollowers, WestHosts);
        await world.SetSecretAsync(BillingToken, "after the re-grant");
        await world.AwaitExactAsync(West, [BillingDb, BillingToken]);

        // Several statements in one transaction, as a loader writes them: a permission moved, a set given a variable.
        await using (var connection = new NpgsqlConnection(leader))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await ExecuteAsync(connection,
                "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1 AND role_id = 'default:group:apps/billing-readers'", BillingDb);
            await ExecuteAsync(connection, "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
            await transaction.CommitAsync();
        }

        await world.AwaitExactAsync(West, [BillingToken, ReportsKey]);
        await world.AwaitExactAsync(East, [BillingToken, InventoryDb]);

        // A deleted variable goes from every holder.
        await Db.ExecuteAsync(leader, "DELETE FROM resources WHERE resource_id = $1", BillingToken);
        await world.AwaitExactAsync(West, [ReportsKey]);
        await world.AwaitExactAsync(East, [InventoryDb]);
    }

    /// <summary>Grant changes and secret writes race; once both stop, each follower holds exactly its granted set.</summary>
    [Fact]
    public async Task Grant_changes_concurrent_with_secret_writes_end_exact()
    {
        await using var world = await WorldAsync();
        var leader = world.Leader;

        var writes = Task.Run(async () =>
        {
            for (var i = 0; i < 150; i++)
            {
                await world.SetSecretAsync(i % 2 == 0 ? BillingDb : ReportsKey, "write " + i);
            }
        });
        var grants = Task.Run(async () =>
        {
            for (var i = 0; i < 15; i++)
            {
                await Db.ExecuteAsync(leader, Revoke, WestFollowers, WestHosts);
                await Db.ExecuteAsync(leader, "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
                await Db.ExecuteAsync(leader, Grant, WestFollowers, WestHosts);
                await Db.ExecuteAsync(leader, "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1 AND role_id = $2", ReportsKey, WestData);
            }

            // Ends with west-1 in its set, given reports/key as well.
            await Db.ExecuteAsync(leader, "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
        });
        await Task.WhenAll(writes, grants);

        await world.AwaitExactAsync(West, [BillingDb, BillingToken, ReportsKey]);
        await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb]);
    }

    /// <summary>The demo policy with a value for each variable, a gateway, and east-1 and west-1 holding their sets.</summary>
    private async Task<TestWorld> WorldAsync()
    {
        var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Secrets([BillingDb, BillingToken, InventoryDb, ReportsKey], id => "value of " + id)
            .Gateway()
            .Follower(East, 0)
            .Follower(West, 1)
            .StartAsync();
        try
        {
            await world.AwaitExactAsync(East, [BillingDb, BillingToken, InventoryDb]);
            await world.AwaitExactAsync(West, [BillingDb, BillingToken]);

            // Both reconciles are done, their last batch (the closing sweep) applied: later batches are pushes.
            await Eventually.HoldsAsync(
                async () => await Db.ScalarAsync<long>(world.Leader, "SELECT count(*) FROM partial_replica.delivery WHERE NOT needs_reconcile") == 2,
                "both followers reconciled");
            return world;
        }
        catch
        {
            await world.DisposeAsync();
            throw;
        }
    }

    /// <summary>How many batches the follower's agent has applied.</summary>
    private static async Task<long> BatchesAsync(string follower) =>
        await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM partial_replica.apply_log");

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }
}
