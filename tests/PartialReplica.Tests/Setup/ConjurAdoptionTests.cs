using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Conjur;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Setup;

/// <summary>
/// F1/F2 (issue 21): setup adopts a leader whose schema Conjur's own migrations made, adding only its own schema,
/// capture, publication, roles and heartbeat; follower init adopts a follower database that holds Conjur's schema;
/// and a leader the product made has Conjur's shape, table by table.
/// </summary>
public sealed class ConjurAdoptionTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    private const string Policy = """
        - !user alice
        - !variable db/password
        - !permit
          role: !user alice
          privileges: [read, execute]
          resource: !variable db/password
        """;

    // What a database holds in schema public besides its tables' rows: functions, triggers, tables, types, constraints.
    private const string PublicObjects = """
        SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || t.tgname FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
        UNION ALL
        SELECT 'table ' || c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
        UNION ALL
        SELECT 'type ' || t.typname FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'c')
        UNION ALL
        SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname FROM pg_constraint c
         WHERE c.connamespace = 'public'::regnamespace
        ORDER BY 1
        """;

    // Conjur's tables: columns with their types and nullability, then primary keys in key order.
    private const string Shape = """
        SELECT c.table_name || '.' || c.column_name || ' ' || c.data_type || ' ' || c.udt_name || ' ' || c.is_nullable
          FROM information_schema.columns c
         WHERE c.table_schema = 'public' AND c.table_name <> 'schema_migrations'
        UNION ALL
        SELECT 'pkey ' || i.indrelid::regclass::text || ' ' || string_agg(a.attname, ',' ORDER BY k.ord)
          FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          JOIN pg_class r ON r.oid = i.indrelid
         WHERE i.indisprimary AND r.relnamespace = 'public'::regnamespace AND r.relname <> 'schema_migrations'
         GROUP BY i.indrelid
        ORDER BY 1
        """;

    [Fact]
    public async Task A_leader_the_product_made_has_Conjurs_columns_types_and_keys()
    {
        var conjur = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "conjur");
        await ConjurSchema.LoadAsync(conjur);
        var made = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "made");
        await using (var dataSource = NpgsqlDataSource.Create(made))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(dataSource, DatabaseRole.Leader, CancellationToken.None);
        }

        var expected = await Db.ColumnAsync(conjur, Shape);
        Assert.Contains("policy_log.operation USER-DEFINED policy_log_op NO", expected);
        Assert.Equal(expected, await Db.ColumnAsync(made, Shape));

        // The SQL functions Conjur's application calls answer on the product's leader too.
        foreach (var function in new[]
                 {
                     "account(text)", "kind(text)", "identifier(text)", "all_roles(text)", "is_role_ancestor_of_any(text,text[])",
                     "is_role_allowed_to(text,text,text)", "roles_that_can(text,text)", "visible_resources(text)",
                     "current_policy_version()", "current_policy_version_no_policy_text()",
                 })
        {
            Assert.True(await Db.ScalarAsync<bool>(made, "SELECT to_regprocedure($1) IS NOT NULL", function), function);
            Assert.True(await Db.ScalarAsync<bool>(conjur, "SELECT to_regprocedure($1) IS NOT NULL", function), function);
        }

        // Adopting changes none of it.
        await using (var dataSource = NpgsqlDataSource.Create(conjur))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(dataSource, DatabaseRole.Leader, CancellationToken.None);
        }

        Assert.Equal(expected, await Db.ColumnAsync(conjur, Shape));
    }

    [Fact]
    public async Task Setup_on_a_leader_Conjur_made_adds_only_its_own_and_Conjurs_rules_keep_working()
    {
        var cluster = await fixture.StartClusterAsync("conjur-leader");
        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("conjur", CancellationToken.None));
        await ConjurSchema.LoadAsync(leader);
        var before = await Db.ColumnAsync(leader, PublicObjects);

        var setup = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);

        Assert.NotNull(setup.AdminApiKey);
        Assert.Contains("public.schema_migrations", setup.PublishedTables);
        // The admin's API key is kept in Conjur's credentials table, as Conjur keeps it.
        Assert.Equal(setup.AdminApiKey, PartialReplica.Tests.Authn.ConjurBlob.Open(TestDataKey.Base64, "default:user:admin",
            (await Db.ScalarAsync<byte[]>(leader, "SELECT api_key FROM credentials WHERE role_id = 'default:user:admin'"))!));
        Assert.Null(await Db.ScalarAsync<byte[]>(leader, "SELECT encrypted_hash FROM credentials WHERE role_id = 'default:user:admin'"));
        // Beside Conjur's objects in public, only this product's capture triggers.
        var added = (await Db.ColumnAsync(leader, PublicObjects)).Except(before).ToList();
        Assert.NotEmpty(added);
        Assert.All(added, o => Assert.Matches(@"^trigger (secrets|resources|role_memberships|permissions|credentials) partial_replica_", o));
        Assert.Empty(before.Except(await Db.ColumnAsync(leader, PublicObjects)));

        // Twice: nothing more.
        var again = await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        Assert.Empty(again.AppliedMigrations);
        Assert.Null(again.AdminApiKey);
        Assert.Equal(added.Count + before.Count, (await Db.ColumnAsync(leader, PublicObjects)).Count);

        // Conjur's policy_log triggers log the product's policy load, in Conjur's own column types.
        await using var dataSource = NpgsqlDataSource.Create(leader);
        var load = await new PolicyLoader(NullLogger.Instance).LoadAsync(dataSource, new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = Policy }, CancellationToken.None);
        Assert.Equal(1, load.Version);
        Assert.Equal(["default:policy:root 1 finished"], await Db.ColumnAsync(leader,
            "SELECT resource_id || ' ' || version || ' ' || CASE WHEN finished_at IS NULL THEN 'open' ELSE 'finished' END FROM policy_versions"));
        var logged = await Db.ColumnAsync(leader, """
            SELECT version || ' ' || operation || ' ' || kind || ' ' || (subject -> 'role_id') || ' ' || pg_typeof(operation) || ' ' || pg_typeof(subject)
              FROM policy_log WHERE kind = 'roles' ORDER BY 1
            """);
        Assert.Contains("1 INSERT roles default:user:alice policy_log_op hstore", logged);

        // Conjur's functions answer.
        Assert.True(await Db.ScalarAsync<bool>(leader, "SELECT is_role_allowed_to('default:user:alice', 'execute', 'default:variable:db/password')"));
        Assert.False(await Db.ScalarAsync<bool>(leader, "SELECT is_role_allowed_to('default:user:alice', 'update', 'default:variable:db/password')"));
        Assert.Contains("default:user:alice", await Db.ColumnAsync(leader, "SELECT role_id FROM roles_that_can('execute', 'default:variable:db/password')"));

        // Conjur's secrets_version numbers versions, once.
        var crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());
        var variable = "default:variable:db/password";
        Assert.Equal(1, await SecretStore.SetAsync(dataSource, variable, Encoding.UTF8.GetBytes("one"), crypto, CancellationToken.None));
        Assert.Equal(2, await SecretStore.SetAsync(dataSource, variable, Encoding.UTF8.GetBytes("two"), crypto, CancellationToken.None));
        Assert.Equal(
            ["upsert 1", "upsert 2"],
            await Db.ColumnAsync(leader, "SELECT kind || ' ' || version FROM partial_replica.changes WHERE resource_id = $1 ORDER BY change_id", variable));

        // The relay holds Conjur's tables as the leader has them and copies their rows.
        var relay = new NpgsqlConnectionStringBuilder(leader) { Database = setup.Relay!.Location.Database }.ConnectionString;
        await Db.ExecuteAsync(leader, "INSERT INTO schema_migrations (filename) VALUES ('20250101000000_adopted.rb')");
        await Eventually.HoldsAsync(async () =>
                await Db.ScalarAsync<long>(relay, "SELECT count(*) FROM policy_log WHERE kind = 'roles'") == logged.Count
                && await Db.ScalarAsync<long>(relay, "SELECT count(*) FROM schema_migrations") == 1,
            "the relay replays the leader's policy_log and schema_migrations");
    }

    /// <summary>
    /// A leader Conjur already filled: setup counts the variables it finds without a value (by which Edge and status
    /// counts are made), and Conjur's own writes keep that set after.
    /// </summary>
    [Fact]
    public async Task Setup_on_a_filled_Conjur_leader_knows_which_variables_have_no_value()
    {
        var cluster = await fixture.StartClusterAsync("conjur-filled");
        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("conjur", CancellationToken.None));
        await ConjurSchema.LoadAsync(leader);
        await Db.ExecuteAsync(leader, """
            INSERT INTO roles (role_id) VALUES ('default:user:admin');
            INSERT INTO resources (resource_id, owner_id)
            SELECT 'default:variable:app/v' || i, 'default:user:admin' FROM generate_series(1, 4) i
            UNION ALL SELECT 'default:webservice:app/api', 'default:user:admin';
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:app/v1', '\x01');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:app/v1', '\x02');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:app/v3', '\x03');
            """);

        await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        const string Unset = "SELECT resource_id FROM partial_replica.unset_variables ORDER BY 1";
        Assert.Equal(["default:variable:app/v2", "default:variable:app/v4"], await Db.ColumnAsync(leader, Unset));

        // Conjur's writes after setup: a value set, a variable's versions deleted, a new variable, a variable deleted.
        await Db.ExecuteAsync(leader, """
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:app/v2', '\x04');
            DELETE FROM secrets WHERE resource_id = 'default:variable:app/v3';
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:app/v5', 'default:user:admin');
            DELETE FROM resources WHERE resource_id = 'default:variable:app/v4';
            """);
        Assert.Equal(["default:variable:app/v3", "default:variable:app/v5"], await Db.ColumnAsync(leader, Unset));
    }

    [Fact]
    public async Task Follower_init_on_a_Conjur_follower_database_subscribes_without_recreating_its_tables()
    {
        var cluster = await fixture.StartClusterAsync("conjur-leader");
        var leader = cluster.ConnectionString(await cluster.CreateDatabaseAsync("conjur", CancellationToken.None));
        await ConjurSchema.LoadAsync(leader);
        await new LeaderSetup(NullLogger.Instance).RunAsync(leader, new SetupOptions { DataKey = TestDataKey.Key }, CancellationToken.None);
        await using var leaderSource = NpgsqlDataSource.Create(leader);
        await new PolicyLoader(NullLogger.Instance).LoadAsync(leaderSource, new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = Policy }, CancellationToken.None);

        await Db.ExecuteAsync(leader, "INSERT INTO schema_migrations (filename) VALUES ('201801010000_a.rb')");

        // A Conjur follower's database holds rows already: Conjur's own migrations, and here a stale role.
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "conjur_follower");
        await ConjurSchema.LoadAsync(follower);
        await Db.ExecuteAsync(follower, """
            INSERT INTO schema_migrations (filename) VALUES ('201801010000_a.rb'), ('201801010000_b.rb');
            INSERT INTO roles (role_id) VALUES ('default:user:stale');
            """);
        const string tables = "SELECT c.relname || ' ' || c.oid FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1";
        var tablesBefore = await Db.ColumnAsync(follower, tables);

        await ReplicationFixture.InitFollowerAsync(leader, follower, "conjur/followers/east-1");

        Assert.Equal(tablesBefore, await Db.ColumnAsync(follower, tables));
        // Its rows were replaced by the leader's: the first copy would have stopped at the first key already there.
        Assert.Equal(["201801010000_a.rb"], await Db.ColumnAsync(follower, "SELECT filename FROM schema_migrations"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM roles WHERE role_id = 'default:user:stale'"));
        Assert.Equal(1L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM resources WHERE resource_id = 'default:variable:db/password'"));
        Assert.True(await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM policy_log WHERE version = 1") > 0);

        // Replication keeps flowing into Conjur's tables: a later load arrives, logged in Conjur's types.
        await new PolicyLoader(NullLogger.Instance).LoadAsync(leaderSource,
            new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = "- !variable db/user" }, CancellationToken.None);
        await Eventually.HoldsAsync(async () =>
                await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM policy_log WHERE version = 2 AND subject -> 'resource_id' = 'default:variable:db/user'") == 1,
            "the follower replays the second load's policy_log");

        // The agent writes secrets with the leader's version numbers, possibly before their variable has replicated:
        // Conjur's renumbering trigger and the foreign key to resources are gone from the follower's secrets.
        await Db.ExecuteAsync(follower, "INSERT INTO secrets (resource_id, version, value) VALUES ('default:variable:not/yet', 7, '\\x47'::bytea)");
        Assert.Equal(7, await Db.ScalarAsync<int>(follower, "SELECT version FROM secrets WHERE resource_id = 'default:variable:not/yet'"));
        // Conjur's other rules stay (they do not fire for replicated rows).
        Assert.True(await Db.ScalarAsync<long>(follower,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'policy_versions'::regclass AND tgname = 'policy_versions_version'") == 1);
    }
}
