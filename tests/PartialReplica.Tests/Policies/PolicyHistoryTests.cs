using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>Each load is recorded in policy_versions (per branch) and policy_log, and tags rows with their policy.</summary>
[Collection(PolicyCollection.Name)]
public sealed class PolicyHistoryTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Each_load_writes_a_version_per_branch_and_logs_its_rows()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        const string root = "- !policy\n  id: app\n";
        var first = await db.LoadAsync(root);
        var second = await db.LoadAsync("- !variable a\n", branch: "app");
        var third = await db.LoadAsync("- !variable b\n", PolicyMode.Update, branch: "app");

        Assert.Equal((1, 1, 2), (first.Version, second.Version, third.Version));
        var versions = await Db.ColumnAsync(db.ConnectionString, """
            SELECT resource_id || ' ' || version || ' ' || role_id || ' ' || (policy_sha256 = encode(sha256(convert_to(policy_text, 'UTF8')), 'hex'))
                   || ' ' || (finished_at IS NOT NULL)
              FROM policy_versions ORDER BY resource_id, version
            """);
        Assert.Equal(
            [
                "default:policy:app 1 default:user:admin true true",
                "default:policy:app 2 default:user:admin true true",
                "default:policy:root 1 default:user:admin true true",
            ],
            versions);

        var log = await Db.ColumnAsync(db.ConnectionString,
            "SELECT version || ' ' || operation || ' ' || kind || ' ' || subject::text FROM policy_log WHERE policy_id = 'default:policy:app' ORDER BY 1");
        // Conjur's shape: enum operation and kind, the row's key as hstore.
        Assert.Equal(
            [
                "1 INSERT resources \"resource_id\"=>\"default:variable:app/a\"",
                "2 INSERT resources \"resource_id\"=>\"default:variable:app/b\"",
            ],
            log);
        Assert.Equal("default:policy:app", await Db.ScalarAsync<string>(db.ConnectionString,
            "SELECT policy_id FROM resources WHERE resource_id = 'default:variable:app/b'"));
    }

    [Fact]
    public async Task Created_users_and_hosts_get_an_api_key_once()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var first = await db.LoadAsync("- !user alice\n- !host\n  id: h\n  restricted_to: 10.1.0.0/16\n- !group g\n");
        var again = await db.LoadAsync("- !user alice\n- !host h\n", PolicyMode.Update);

        Assert.Equal(["default:host:h", "default:user:alice"], first.CreatedRoles.Keys.Order(StringComparer.Ordinal));
        Assert.Empty(again.CreatedRoles);
        var stored = await Db.ScalarAsync<byte[]>(db.ConnectionString, "SELECT api_key FROM credentials WHERE role_id = 'default:user:alice'");
        Assert.Equal(first.CreatedRoles["default:user:alice"].ApiKey, PartialReplica.Tests.Authn.ConjurBlob.Open(TestDataKey.Base64, "default:user:alice", stored!));
        Assert.Equal(0L, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM credentials WHERE encrypted_hash IS NOT NULL"));
        // The update restated h without restricted_to: update mode makes the file's value the truth.
        Assert.Equal("{}", await Db.ScalarAsync<string>(db.ConnectionString, "SELECT restricted_to::text FROM credentials WHERE role_id = 'default:host:h'"));
    }

    /// <summary>The SQL functions Conjur's application calls answer on a leader the product made, over what its loader wrote.</summary>
    [Fact]
    public async Task Conjurs_role_functions_answer_on_a_leader_the_product_made()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !user alice\n- !group readers\n- !grant\n  role: !group readers\n  member: !user alice\n- !variable db/password\n" +
                           "- !permit\n  role: !group readers\n  privileges: [read, execute]\n  resource: !variable db/password\n");

        Assert.True(await Db.ScalarAsync<bool>(db.ConnectionString, "SELECT is_role_allowed_to('default:user:alice', 'execute', 'default:variable:db/password')"));
        Assert.False(await Db.ScalarAsync<bool>(db.ConnectionString, "SELECT is_role_allowed_to('default:user:alice', 'update', 'default:variable:db/password')"));
        Assert.Contains("default:user:alice", await Db.ColumnAsync(db.ConnectionString, "SELECT role_id FROM roles_that_can('execute', 'default:variable:db/password')"));
        Assert.Contains("default:group:readers", await Db.ColumnAsync(db.ConnectionString, "SELECT role_id FROM all_roles('default:user:alice')"));
        Assert.Contains("default:variable:db/password", await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM visible_resources('default:user:alice')"));
        // The load's version is finished when it commits: none is current.
        Assert.Empty(await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM current_policy_version()"));
    }
}
