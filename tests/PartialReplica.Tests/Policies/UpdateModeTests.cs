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
}
