using Npgsql;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>F4 at scale: registering a follower materialises its whole granted set, whatever the planner's statistics say.</summary>
[Collection(PolicyCollection.Name)]
public sealed class GrantRefreshScaleTests(ReplicationFixture fixture)
{
    private const int Variables = 100_000;

    /// <summary>
    /// An analysed, empty grant table (an operator's VACUUM ANALYZE before the first follower) must not make the
    /// registration's refresh scan the grant table for every wanted row, over its own inserts: that plan is quadratic,
    /// minutes at this size. The statement timeout turns a return of it into a failure; the registration takes well
    /// under a second here.
    /// </summary>
    [Fact]
    public async Task A_follower_registered_after_the_grant_table_was_analysed_empty_gets_its_whole_set()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        const string Prefix = "default:variable:apps/bulk/v";
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO resources (resource_id, owner_id) SELECT $1 || lpad(i::text, 6, '0'), 'default:user:admin' FROM generate_series(1, $2) i",
            Prefix, Variables);
        await Db.ExecuteAsync(db.ConnectionString, """
            INSERT INTO permissions (privilege, resource_id, role_id)
            SELECT 'execute', $1 || lpad(i::text, 6, '0'), 'default:group:conjur/replication-sets/east/replicated-data' FROM generate_series(1, $2) i
            """, Prefix, Variables);
        await Db.ExecuteAsync(db.ConnectionString, "VACUUM (ANALYZE)");
        Assert.Equal((0, 0f), (await Db.ScalarAsync<int>(db.ConnectionString, "SELECT relpages FROM pg_class WHERE oid = 'partial_replica.granted'::regclass"),
            await Db.ScalarAsync<float>(db.ConnectionString, "SELECT reltuples FROM pg_class WHERE oid = 'partial_replica.granted'::regclass")));

        var bounded = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Options = "-c statement_timeout=20000" }.ConnectionString;
        await Db.ExecuteAsync(bounded,
            "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ('conjur/followers/east-1', 'default:host:conjur/followers/east-1', 'pr_east_1')");

        var materialised = await db.MaterialisedAsync("conjur/followers/east-1");
        Assert.Equal(Variables + 3, materialised.Count);
        Assert.Equal(await db.GrantedAsync("conjur/followers/east-1"), materialised);
        Assert.Equal((long)Variables + 3, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT variables FROM partial_replica.granted_counts WHERE follower_role_id = 'default:host:conjur/followers/east-1'"));
    }

    /// <summary>
    /// The refresh a policy load runs (leader baseline: one statement, the wanted set against the held one by a FULL JOIN):
    /// with 100,000 variables held, taking half of them away and adding 10,000 others returns exactly those
    /// changes, leaves the grant table equal to the definition, and keeps the count; within the same timeout.
    /// </summary>
    [Fact]
    public async Task A_refresh_over_a_large_held_set_returns_exactly_the_revokes_and_grants()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        const string Prefix = "default:variable:apps/bulk/v";
        const string Follower = "default:host:conjur/followers/east-1";
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO resources (resource_id, owner_id) SELECT $1 || lpad(i::text, 6, '0'), 'default:user:admin' FROM generate_series(1, $2) i",
            Prefix, Variables + 10_000);
        await Db.ExecuteAsync(db.ConnectionString, """
            INSERT INTO permissions (privilege, resource_id, role_id)
            SELECT 'execute', $1 || lpad(i::text, 6, '0'), 'default:group:conjur/replication-sets/east/replicated-data' FROM generate_series(1, $2) i
            """, Prefix, Variables);
        await Db.ExecuteAsync(db.ConnectionString,
            "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ('conjur/followers/east-1', $1, 'pr_east_1')", Follower);

        // Odd-numbered variables lose their permit; 10,000 new ones gain one. In the refresh's own transaction: once
        // committed, direct SQL changes are refreshed at commit (the leader baseline's grant capture), and the refresh measured here would find nothing.
        var bounded = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Options = "-c statement_timeout=20000" }.ConnectionString;
        var changes = new List<string>();
        await using (var connection = new NpgsqlConnection(bounded))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var revoke = new NpgsqlCommand(
                "DELETE FROM permissions WHERE starts_with(resource_id, $1) AND right(resource_id, 1) IN ('1', '3', '5', '7', '9')", connection))
            {
                revoke.Parameters.Add(new NpgsqlParameter { Value = Prefix });
                await revoke.ExecuteNonQueryAsync();
            }

            await using (var grant = new NpgsqlCommand("""
                INSERT INTO permissions (privilege, resource_id, role_id)
                SELECT 'execute', $1 || lpad(i::text, 6, '0'), 'default:group:conjur/replication-sets/east/replicated-data' FROM generate_series($2 + 1, $2 + 10000) i
                """, connection))
            {
                grant.Parameters.Add(new NpgsqlParameter { Value = Prefix });
                grant.Parameters.Add(new NpgsqlParameter { Value = Variables });
                await grant.ExecuteNonQueryAsync();
            }

            await using (var refresh = new NpgsqlCommand(
                "SELECT (change || ' ' || resource_id) COLLATE \"C\" AS c FROM partial_replica.refresh_granted() WHERE follower = 'conjur/followers/east-1' ORDER BY c",
                connection))
            await using (var reader = await refresh.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    changes.Add(reader.GetString(0));
                }
            }

            await transaction.CommitAsync();
        }

        var expected = Enumerable.Range(1, Variables).Where(i => i % 2 == 1).Select(i => $"revoke {Prefix}{i:D6}")
            .Concat(Enumerable.Range(Variables + 1, 10_000).Select(i => $"grant {Prefix}{i:D6}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, changes);
        var materialised = await db.MaterialisedAsync("conjur/followers/east-1");
        Assert.Equal(await db.GrantedAsync("conjur/followers/east-1"), materialised);
        Assert.Equal(Variables / 2 + 10_000 + 3, materialised.Count);
        Assert.Equal((long)materialised.Count, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT variables FROM partial_replica.granted_counts WHERE follower_role_id = $1", Follower));
        Assert.Empty(await Db.ColumnAsync(bounded, "SELECT change FROM partial_replica.refresh_granted()"));
    }
}
