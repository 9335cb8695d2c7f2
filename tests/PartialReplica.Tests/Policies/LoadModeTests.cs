using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>load (POST): adds, never deletes, leaves existing rows as they are.</summary>
[Collection(PolicyCollection.Name)]
public sealed class LoadModeTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Load_adds_records_and_keeps_what_the_file_omits()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: app\n  body:\n  - !variable a\n  - !group g\n");
        await db.LoadAsync("- !variable b\n- !permit\n  role: !group g\n  privilege: execute\n  resource: !variable a\n", branch: "app");

        var variables = await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM resources WHERE resource_id LIKE '%:variable:%' ORDER BY 1");
        Assert.Equal(["default:variable:app/a", "default:variable:app/b"], variables);
        Assert.Equal(1L, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT count(*) FROM permissions WHERE role_id = 'default:group:app/g' AND policy_id = 'default:policy:app'"));
    }

    /// <summary>
    /// As Conjur: each new resource gets its text search row, weighted as Conjur weighs it (English stems of the identifier
    /// and the name annotation A, other annotations B, the kind C; 'my' and 'more' are English stop words), written per statement.
    /// </summary>
    [Fact]
    public async Task Every_resource_a_load_adds_gets_its_text_search_row()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: my-app\n  body:\n  - !variable db_password\n  - !variable api/key\n");
        await db.LoadAsync("- !variable more\n", branch: "my-app");

        var rows = await Db.ColumnAsync(db.ConnectionString, """
            SELECT r.resource_id || ' ' || coalesce(t.textsearch::text, 'none') FROM resources r
              LEFT JOIN resources_textsearch t ON t.resource_id = r.resource_id
             WHERE starts_with(r.resource_id, 'default:variable:') OR r.resource_id = 'default:policy:my-app' ORDER BY 1
            """);
        Assert.Equal(
            [
                "default:policy:my-app 'app':2A 'polici':3C",
                "default:variable:my-app/api/key 'api':3A 'app':2A 'key':4A 'variabl':5C",
                "default:variable:my-app/db_password 'app':2A 'db':3A 'password':4A 'variabl':5C",
                "default:variable:my-app/more 'app':2A 'variabl':3C",
            ], rows);
    }

    [Fact]
    public async Task Load_refuses_delete_revoke_and_deny()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !variable a\n");
        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync("- !delete\n  record: !variable a\n", file: "d.yml"));
        Assert.StartsWith("d.yml:1:3:", error.Message);
        Assert.Contains("not allowed when loading", error.Message);
    }

    [Fact]
    public async Task Owner_becomes_member_of_the_roles_it_owns()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !group admins\n- !policy\n  id: app\n  owner: !group admins\n  body:\n  - !layer l\n");

        var ownership = await Db.ColumnAsync(db.ConnectionString,
            "SELECT role_id || ' <- ' || member_id FROM role_memberships WHERE ownership AND admin_option ORDER BY 1");
        Assert.Equal(
            [
                // As Conjur: a root record with no owner belongs to the root policy's owner, the admin user.
                "default:group:admins <- default:user:admin",
                "default:layer:app/l <- default:policy:app",
                "default:policy:app <- default:group:admins",
            ],
            ownership);
        Assert.Equal("default:policy:app", await Db.ScalarAsync<string>(db.ConnectionString,
            "SELECT owner_id FROM resources WHERE resource_id = 'default:layer:app/l'"));
    }
}
