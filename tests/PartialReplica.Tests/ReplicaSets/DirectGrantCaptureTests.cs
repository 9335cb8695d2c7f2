using Npgsql;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// F5 (issue 21): grants changed with plain SQL, as Conjur's policy loader and psql change them, keep the
/// materialised grant table exact and queue 'grant'/'revoke' rows for exactly the followers whose set changed.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class DirectGrantCaptureTests(ReplicationFixture fixture)
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

    [Fact]
    public async Task Membership_deleted_with_sql_revokes_from_that_follower_only()
    {
        var (db, since) = await DemoAsync();

        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", WestFollowers, WestHosts);

        Assert.Equal([$"revoke {West} {BillingToken}", $"revoke {West} {BillingDb}"], await OutboxAsync(db, since));
        await AssertExactAsync(db, [], [BillingToken, BillingDb, InventoryDb]);
    }

    [Fact]
    public async Task Membership_and_permission_inserted_with_sql_grant()
    {
        var (db, since) = await DemoAsync();

        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO permissions (privilege, resource_id, role_id, policy_id) VALUES ('execute', $1, $2, 'default:policy:root')",
            ReportsKey, WestData);
        Assert.Equal([$"grant {West} {ReportsKey}"], await OutboxAsync(db, since));

        await Db.ExecuteAsync(db.ConnectionString, """
            INSERT INTO role_memberships (role_id, member_id, admin_option, ownership, policy_id)
            VALUES ('default:layer:conjur/replication-sets/west/followers', 'default:host:conjur/followers/east-1', false, false, 'default:policy:root')
            """);
        Assert.Equal([$"grant {West} {ReportsKey}", $"grant {East} {ReportsKey}"], await OutboxAsync(db, since));
        await AssertExactAsync(db, [BillingToken, BillingDb, ReportsKey], [BillingToken, BillingDb, InventoryDb, ReportsKey]);
    }

    [Fact]
    public async Task Several_statements_in_one_transaction_queue_their_net_difference_once()
    {
        var (db, since) = await DemoAsync();

        await using (var connection = await db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            // Revoked and granted back within the transaction: no change. Then a permission moved between variables.
            await ExecuteAsync(connection, "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", WestFollowers, WestHosts);
            await ExecuteAsync(connection,
                "INSERT INTO role_memberships (role_id, member_id, policy_id) VALUES ($1, $2, 'default:policy:root')", WestFollowers, WestHosts);
            await ExecuteAsync(connection,
                "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1 AND role_id = 'default:group:apps/billing-readers'", BillingToken);
            await ExecuteAsync(connection,
                "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
            Assert.Empty(await Db.ColumnAsync(db.ConnectionString, "SELECT kind FROM partial_replica.changes WHERE change_id > $1", since));
            await transaction.CommitAsync();
        }

        Assert.Equal(
            [$"revoke {East} {BillingToken}", $"revoke {West} {BillingToken}", $"grant {West} {ReportsKey}"],
            await OutboxAsync(db, since));
        await AssertExactAsync(db, [BillingDb, ReportsKey], [BillingDb, InventoryDb]);
        Assert.Equal(0L, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT (SELECT count(*) FROM partial_replica.grants_dirty) + (SELECT count(*) FROM partial_replica.grant_touches)"));
    }

    [Fact]
    public async Task Deleted_variable_and_deleted_role_revoke_through_their_cascades()
    {
        var (db, since) = await DemoAsync();

        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM resources WHERE resource_id = $1", BillingToken);
        await AssertExactAsync(db, [BillingDb], [BillingDb, InventoryDb]);

        await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM roles WHERE role_id = $1", WestHosts);
        await AssertExactAsync(db, [], [BillingDb, InventoryDb]);
        Assert.Equal(
            [$"revoke {East} {BillingToken}", $"revoke {West} {BillingToken}", $"revoke {West} {BillingDb}"],
            await OutboxAsync(db, since, kinds: ["grant", "revoke"]));
    }

    [Fact]
    public async Task Owner_changes_follow_the_ownership_membership_and_nothing_else()
    {
        var (db, since) = await DemoAsync();

        // A variable's owner does not grant it (SPEC F4: permissions only): nothing is queued.
        await Db.ExecuteAsync(db.ConnectionString,
            "UPDATE resources SET owner_id = $1 WHERE resource_id = $2", "default:host:conjur/followers/west-1", ReportsKey);
        Assert.Empty(await OutboxAsync(db, since));

        // As Conjur changes a layer's owner: the resource's owner and the role's ownership membership move together.
        // The new owner, west-1, becomes a member of the east set's followers layer.
        await using (var connection = await db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            const string layer = "default:layer:conjur/replication-sets/east/followers";
            await ExecuteAsync(connection, "UPDATE resources SET owner_id = $1 WHERE resource_id = $2", "default:host:conjur/followers/west-1", layer);
            await ExecuteAsync(connection, "UPDATE role_memberships SET member_id = $1 WHERE role_id = $2 AND ownership",
                "default:host:conjur/followers/west-1", layer);
            await transaction.CommitAsync();
        }

        Assert.Equal([$"grant {West} {InventoryDb}"], await OutboxAsync(db, since));
        await AssertExactAsync(db, [BillingToken, BillingDb, InventoryDb], [BillingToken, BillingDb, InventoryDb]);
    }

    [Fact]
    public async Task Statements_that_cannot_change_a_grant_queue_nothing()
    {
        var (db, since) = await DemoAsync();
        const string lastRefresh = "SELECT xmin::text FROM partial_replica.grant_refreshes";
        var refreshed = await Db.ScalarAsync<string>(db.ConnectionString, lastRefresh);

        // Nothing the rule reads: not even the commit-time refresh runs.
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('read', $1, $2)", ReportsKey, WestData);
        await Db.ExecuteAsync(db.ConnectionString, "UPDATE role_memberships SET admin_option = true, policy_id = 'default:policy:apps'");
        await Db.ExecuteAsync(db.ConnectionString, "UPDATE resources SET policy_id = 'default:policy:apps'");
        Assert.Equal(refreshed, await Db.ScalarAsync<string>(db.ConnectionString, lastRefresh));

        // A new user joins a group no follower reaches: refreshed, no follower affected.
        await Db.ExecuteAsync(db.ConnectionString, """
            INSERT INTO roles (role_id) VALUES ('default:user:alice');
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:user:alice', 'default:user:admin');
            INSERT INTO role_memberships (role_id, member_id) VALUES ('default:group:apps/billing-readers', 'default:user:alice')
            """);

        Assert.Empty(await OutboxAsync(db, since));
        await AssertExactAsync(db, [BillingToken, BillingDb], [BillingToken, BillingDb, InventoryDb]);
    }

    /// <summary>
    /// Two transactions change grants at once, each committing what the other has not yet seen; the second
    /// refreshes after the first committed, so the grant table is exact whichever commits first.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Concurrent_grant_transactions_leave_the_grant_table_exact(bool revokeCommitsFirst)
    {
        var (db, _) = await DemoAsync();
        await using var revoke = await db.DataSource.OpenConnectionAsync();
        await using var grant = await db.DataSource.OpenConnectionAsync();
        await using var revoking = await revoke.BeginTransactionAsync();
        await using var granting = await grant.BeginTransactionAsync();

        // West-1 leaves the west set, while the west set is given reports/key and east-1 joins it.
        await ExecuteAsync(revoke, "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", WestFollowers, WestHosts);
        await ExecuteAsync(grant, "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
        await ExecuteAsync(grant, "INSERT INTO role_memberships (role_id, member_id) VALUES ($1, 'default:host:conjur/followers/east-1')", WestFollowers);

        if (revokeCommitsFirst)
        {
            await revoking.CommitAsync();
            await granting.CommitAsync();
        }
        else
        {
            await granting.CommitAsync();
            await revoking.CommitAsync();
        }

        await AssertExactAsync(db, [], [BillingToken, BillingDb, InventoryDb, ReportsKey]);
    }

    [Fact]
    public async Task Repeatable_read_grant_change_that_missed_a_concurrent_refresh_fails_instead_of_committing_stale_grants()
    {
        var (db, _) = await DemoAsync();
        await using var late = await db.DataSource.OpenConnectionAsync();
        await using (var lateTransaction = await late.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead))
        {
            await ExecuteAsync(late, "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('execute', $1, $2)", ReportsKey, WestData);
            await Db.ExecuteAsync(db.ConnectionString, "DELETE FROM role_memberships WHERE role_id = $1 AND member_id = $2", WestFollowers, WestHosts);

            var failure = await Assert.ThrowsAsync<PostgresException>(() => lateTransaction.CommitAsync());
            Assert.Equal(PostgresErrorCodes.SerializationFailure, failure.SqlState);
        }

        await AssertExactAsync(db, [], [BillingToken, BillingDb, InventoryDb]);
    }

    private async Task<(PolicyDatabase Db, long Since)> DemoAsync()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.RegisterFollowerAsync(East);
        await db.RegisterFollowerAsync(West);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        var since = await Db.ScalarAsync<long>(db.ConnectionString, "SELECT coalesce(max(change_id), 0) FROM partial_replica.changes");
        return (db, since);
    }

    /// <summary>The grant and revoke rows queued after <paramref name="since"/>, in outbox order: "kind follower variable".</summary>
    private static Task<List<string>> OutboxAsync(PolicyDatabase db, long since, string[]? kinds = null) =>
        Db.ColumnAsync(db.ConnectionString, """
            SELECT kind || ' ' || follower || ' ' || resource_id FROM partial_replica.changes
             WHERE change_id > $1 AND kind = ANY($2) ORDER BY change_id
            """, since, kinds ?? ["grant", "revoke", "upsert", "requeue"]);

    /// <summary>Both followers' materialised grants equal the rule's answer and the expected sets, as are the counts.</summary>
    private static async Task AssertExactAsync(PolicyDatabase db, string[] west, string[] east)
    {
        foreach (var (follower, expected) in new[] { (West, west), (East, east) })
        {
            Assert.Equal(expected.Order(StringComparer.Ordinal), await db.MaterialisedAsync(follower));
            Assert.Equal(await db.GrantedAsync(follower), await db.MaterialisedAsync(follower));
            Assert.Equal(expected.Length, await Db.ScalarAsync<long>(db.ConnectionString,
                "SELECT coalesce((SELECT variables FROM partial_replica.granted_counts WHERE follower_role_id = $1), 0)", "default:host:" + follower));
        }
    }

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
