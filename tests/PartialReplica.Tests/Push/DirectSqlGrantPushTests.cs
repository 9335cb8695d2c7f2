using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Crypto;
using PartialReplica.Followers;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// F5/F6 (issue 21): grants changed on the leader with plain SQL, the way Conjur's policy loader writes them, reach
/// the followers with no notify, no policy load through the product and no reconcile: each follower ends with
/// exactly its granted secrets, and a follower whose set did not change is sent nothing.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DirectSqlGrantPushTests(ReplicationFixture fixture) : IAsyncLifetime
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
    public async Task Grants_changed_with_sql_reach_exactly_the_followers_whose_set_changed()
    {
        var (leader, east, west) = await WorldAsync();

        // Revoked with plain SQL, no notify: west-1 loses its secrets; east-1, whose set did not change, is sent nothing.
        var eastBatches = await BatchesAsync(east);
        await Db.ExecuteAsync(leader, Revoke, WestFollowers, WestHosts);
        await AwaitExactAsync(leader, west, []);
        await SetSecretAsync(leader, InventoryDb, "a write only east-1 is granted");
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb]);
        Assert.Equal(eastBatches + 1, await BatchesAsync(east));

        // Granted back by INSERT.
        await Db.ExecuteAsync(leader, Grant, WestFollowers, WestHosts);
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken]);

        // A revoke and a re-grant committed back to back: ends granted.
        await Db.ExecuteAsync(leader, Revoke, WestFollowers, WestHosts);
        await Db.ExecuteAsync(leader, Grant, WestFollowers, WestHosts);
        await SetSecretAsync(leader, BillingToken, "after the re-grant");
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken]);

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

        await AwaitExactAsync(leader, west, [BillingToken, ReportsKey]);
        await AwaitExactAsync(leader, east, [BillingToken, InventoryDb]);

        // A deleted variable goes from every holder.
        await Db.ExecuteAsync(leader, "DELETE FROM resources WHERE resource_id = $1", BillingToken);
        await AwaitExactAsync(leader, west, [ReportsKey]);
        await AwaitExactAsync(leader, east, [InventoryDb]);
    }

    /// <summary>Grant changes and secret writes race; once both stop, each follower holds exactly its granted set.</summary>
    [Fact]
    public async Task Grant_changes_concurrent_with_secret_writes_end_exact()
    {
        var (leader, east, west) = await WorldAsync();

        var writes = Task.Run(async () =>
        {
            for (var i = 0; i < 150; i++)
            {
                await SetSecretAsync(leader, i % 2 == 0 ? BillingDb : ReportsKey, "write " + i);
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

        await AwaitExactAsync(leader, west, [BillingDb, BillingToken, ReportsKey]);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb]);
    }

    /// <summary>The demo policy with a value for each variable, a gateway, and east-1 and west-1 holding their sets.</summary>
    private async Task<(string Leader, string East, string West)> WorldAsync()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await ReplicationFixture.LoadDemoPolicyAsync(leader);
        foreach (var id in new[] { BillingDb, BillingToken, InventoryDb, ReportsKey })
        {
            await SetSecretAsync(leader, id, "value of " + id);
        }

        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader);
        _apps.Add(gateway);
        var east = await StartFollowerAsync(leader, 0, East, gatewayUrl);
        var west = await StartFollowerAsync(leader, 1, West, gatewayUrl);
        await AwaitExactAsync(leader, east, [BillingDb, BillingToken, InventoryDb]);
        await AwaitExactAsync(leader, west, [BillingDb, BillingToken]);

        // Both reconciles are done, their last batch (the closing sweep) applied: later batches are pushes.
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.delivery WHERE NOT needs_reconcile") == 2,
            "both followers reconciled");
        return (leader, east, west);
    }

    private async Task<string> StartFollowerAsync(string leader, int server, string name, string gatewayUrl)
    {
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[server], "grants");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync(name, follower, gatewayUrl);
        _apps.Add(agent);
        await using var followerSource = NpgsqlDataSource.Create(follower);
        await new FollowerInit(NullLogger.Instance).RunAsync(leader, followerSource,
            new FollowerInitOptions { DataKey = TestDataKey.Key, Name = name, AgentUrl = agentUrl }, CancellationToken.None);
        return follower;
    }

    /// <summary>How many batches the follower's agent has applied.</summary>
    private static async Task<long> BatchesAsync(string follower) =>
        await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM partial_replica.apply_log");

    private async Task SetSecretAsync(string leader, string id, string plaintext) =>
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", id, _crypto.Encrypt(Encoding.UTF8.GetBytes(plaintext), id));

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Waits until the follower's secrets equal the leader's rows for exactly <paramref name="granted"/>.</summary>
    private static async Task AwaitExactAsync(string leader, string follower, string[] granted)
    {
        const string rows = """
            SELECT resource_id || '#' || version || '#' || encode(value, 'hex') FROM secrets WHERE resource_id = ANY($1) ORDER BY 1
            """;
        const string all = "SELECT resource_id || '#' || version || '#' || encode(value, 'hex') FROM secrets ORDER BY 1";
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
