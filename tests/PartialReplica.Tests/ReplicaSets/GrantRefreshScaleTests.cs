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
    /// An analysed, empty grant table (an operator's VACUUM ANALYZE before the first follower) made the
    /// registration's refresh scan the grant table for every wanted row, over its own inserts: quadratic, minutes
    /// at this size (found by bench; fixed in 0015). The statement timeout turns a return of that into a failure;
    /// with 0015 the registration takes well under a second here.
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
}
