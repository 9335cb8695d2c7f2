using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>
/// replace (PUT): the branch becomes the file; what it omits of the rows the branch's loads wrote goes (Conjur's
/// policy_id), with what cascades from them; rows other branches wrote stay.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ReplaceModeTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Replace_deletes_what_the_file_omits()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !group outside\n- !policy\n  id: app\n");
        await db.LoadAsync("""
            - !variable keep
            - !variable drop
            - !group g
            - !permit
              role: !group g
              privileges: [read, execute]
              resource: !variable keep
            - !grant
              role: !group g
              member: !group /outside
            - !policy
              id: sub
              body:
              - !variable nested
            """, branch: "app");

        await db.LoadAsync("""
            - !variable keep
            - !group g
            - !permit
              role: !group g
              privilege: read
              resource: !variable keep
            """, PolicyMode.Replace, branch: "app");

        var resources = await Db.ColumnAsync(db.ConnectionString,
            "SELECT resource_id FROM resources WHERE starts_with(resource_id, 'default:variable:') OR resource_id LIKE '%:policy:app%' ORDER BY 1");
        Assert.Equal(["default:policy:app", "default:variable:app/keep"], resources);
        Assert.Equal(["read"], await Db.ColumnAsync(db.ConnectionString, "SELECT privilege FROM permissions ORDER BY 1"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT count(*) FROM role_memberships WHERE member_id = 'default:group:outside'"));
        Assert.Equal(1L, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM roles WHERE role_id = 'default:group:outside'"));

        var deleted = await Db.ColumnAsync(db.ConnectionString, """
            SELECT kind || ' ' || (subject -> coalesce(CASE kind WHEN 'roles' THEN 'role_id' END, 'resource_id'))
              FROM policy_log WHERE operation = 'DELETE' AND kind IN ('roles', 'resources') ORDER BY 1
            """);
        Assert.Contains("resources default:variable:app/drop", deleted);
        Assert.Contains("resources default:variable:app/sub/nested", deleted);
        Assert.Contains("roles default:policy:app/sub", deleted);
    }

    [Fact]
    public async Task Replace_refuses_a_reference_to_a_record_it_deletes()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        // Rows belong to the branch that loaded them (Conjur's policy_id), so app's own load defines g and v.
        await db.LoadAsync("- !policy\n  id: app\n");
        await db.LoadAsync("- !group g\n- !variable v\n", branch: "app");
        var before = await db.SnapshotAsync();

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync(
            "- !variable v\n- !permit\n  role: !group g\n  privilege: read\n  resource: !variable v\n", PolicyMode.Replace, branch: "app", file: "r.yml"));
        Assert.StartsWith("r.yml:3:9: default:group:app/g does not exist", error.Message);
        Assert.Equal(before, await db.SnapshotAsync());
    }

    [Fact]
    public async Task Replace_leaves_rows_that_other_branches_wrote()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("""
            - !policy
              id: app
              body:
              - !variable from-root
              - !policy
                id: sub
            """);
        await db.LoadAsync("- !variable own\n- !variable dropped\n", branch: "app");
        await db.LoadAsync("- !variable deep\n", branch: "app/sub");

        // from-root is stated again but root wrote it (shadowed: stays root's); own is kept, dropped goes.
        await db.LoadAsync("- !variable from-root\n- !variable own\n", PolicyMode.Replace, branch: "app");

        Assert.Equal(
            ["default:policy:app @default:policy:root", "default:policy:app/sub @default:policy:root",
             "default:variable:app/from-root @default:policy:root", "default:variable:app/own @default:policy:app",
             "default:variable:app/sub/deep @default:policy:app/sub"],
            await Db.ColumnAsync(db.ConnectionString,
                "SELECT resource_id || ' @' || policy_id FROM resources WHERE resource_id LIKE 'default:%:app%' ORDER BY 1"));
    }
}
