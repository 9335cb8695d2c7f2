using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Policies;

/// <summary>update (PATCH): adds and updates; deletes only what !delete, !revoke and !deny name.</summary>
[Collection(PolicyCollection.Name)]
public sealed class UpdateModeTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Update_deletes_only_through_explicit_statements()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("""
            - !group g
            - !group h
            - !variable a
            - !variable b
            - !variable c
              # comment
            - !grant
              role: !group g
              member: !group h
            - !permit
              role: !group g
              privileges: [read, execute]
              resources: [!variable a, !variable b]
            """);

        await db.LoadAsync("""
            - !variable
              id: a
              annotations:
                owner-team: payments
            - !delete
              record: !variable c
            - !revoke
              role: !group g
              member: !group h
            - !deny
              role: !group g
              privilege: execute
              resource: !variable b
            """, PolicyMode.Update);

        Assert.Equal(["default:variable:a", "default:variable:b"],
            await Db.ColumnAsync(db.ConnectionString, "SELECT resource_id FROM resources WHERE resource_id LIKE '%:variable:%' ORDER BY 1"));
        Assert.Equal(["execute a", "read a", "read b"],
            await Db.ColumnAsync(db.ConnectionString, "SELECT privilege || ' ' || split_part(resource_id, ':', 3) FROM permissions ORDER BY 1"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM role_memberships WHERE NOT ownership"));
        Assert.Equal("payments", await Db.ScalarAsync<string>(db.ConnectionString, "SELECT value FROM annotations WHERE name = 'owner-team'"));
        Assert.Equal(2L, await Db.ScalarAsync<long>(db.ConnectionString, "SELECT count(*) FROM roles WHERE role_id LIKE '%:group:%'"));
    }

    [Fact]
    public async Task Revoke_and_deny_remove_only_rows_the_loading_branch_wrote()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("""
            - !policy
              id: app
              body:
              - !group g
              - !group h
              - !group k
              - !variable v
              - !grant
                role: !group g
                member: !group h
              - !permit
                role: !group g
                privilege: read
                resource: !variable v
            """);
        await db.LoadAsync("""
            - !grant
              role: !group g
              member: !group k
            - !permit
              role: !group g
              privilege: execute
              resource: !variable v
            """, branch: "app");
        const string Revokes = """
            - !revoke
              role: !group g
              member: !group h
            - !revoke
              role: !group g
              member: !group k
            - !deny
              role: !group g
              privileges: [read, execute]
              resource: !variable v
            """;

        // Conjur's loader revokes and denies only rows of the branch loaded: app's own go, root's stay.
        await db.LoadAsync(Revokes, PolicyMode.Update, "app");
        Assert.Equal(["default:group:app/g <- default:group:app/h @default:policy:root"], await GrantsAsync(db));
        Assert.Equal(["read default:variable:app/v default:group:app/g @default:policy:root"], await PermitsAsync(db));

        await db.LoadAsync(Revokes.Replace("!group g", "!group app/g").Replace("!group h", "!group app/h")
            .Replace("!group k", "!group app/k").Replace("!variable v", "!variable app/v"), PolicyMode.Update);
        Assert.Empty(await GrantsAsync(db));
        Assert.Empty(await PermitsAsync(db));
    }

    private static Task<List<string>> GrantsAsync(PolicyDatabase db) => Db.ColumnAsync(db.ConnectionString,
        "SELECT role_id || ' <- ' || member_id || ' @' || policy_id FROM role_memberships WHERE NOT ownership ORDER BY 1");

    private static Task<List<string>> PermitsAsync(PolicyDatabase db) => Db.ColumnAsync(db.ConnectionString,
        "SELECT privilege || ' ' || resource_id || ' ' || role_id || ' @' || policy_id FROM permissions ORDER BY 1");
}
