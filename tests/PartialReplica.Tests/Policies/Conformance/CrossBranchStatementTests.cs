using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Policies.Conformance.ConjurRows;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>
/// A statement about records of two branches, written the way Conjur accepts it: it stands in the branch that owns
/// the granted role (or permitted resource), which is named relative, and names the member (or permitted role) of the
/// other branch absolute or with <c>../</c>. Stated from the member's branch, with the role absolute, Conjur refuses
/// it ("Illegal absolute id") and so does the loader.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class CrossBranchStatementTests(ReplicationFixture fixture)
{
    private const string World = """
        - !policy
          id: conjur/replication-sets/east
          body:
          - !webservice
          - !group replicated-data
          - !layer followers
          - !permit
            role: !layer followers
            privilege: replicate
            resource: !webservice
        - !host east-1
        - !grant
          role: !layer conjur/replication-sets/east/followers
          member: !host east-1
        - !policy
          id: apps
          body:
          - !policy
            id: billing
            body:
            - !variable db/password
            - !variable api/token
            - !group readers
            - !permit
              role: !group readers
              privilege: execute
              resource: !variable db/password
        """;

    [Theory]
    [InlineData(PolicyMode.Load)]
    [InlineData(PolicyMode.Update)]
    [InlineData(PolicyMode.Replace)]
    public async Task A_grant_stated_in_the_branch_of_its_role_with_an_absolute_member_grants_as_Conjur_does(PolicyMode mode)
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(World);
        await db.RegisterFollowerAsync("east-1");
        var baseline = await AllAsync(db);
        var before = await db.SnapshotAsync();

        // From the member's branch (the replica set's), the granted role can only be named absolute: refused.
        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync("""
            - !grant
              role: !group /apps/billing/readers
              member: !group replicated-data
            """, mode, "conjur/replication-sets/east", file: "set.yml"));
        Assert.StartsWith("set.yml:2:9: Illegal absolute id '/apps/billing/readers': a !grant's role", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await db.SnapshotAsync());
        Assert.Empty(await db.GrantedAsync("east-1"));

        // From the role's branch, with the member absolute and another member climbing with ../: loaded.
        await db.LoadAsync("""
            - !grant
              role: !group readers
              members:
              - !group /conjur/replication-sets/east/replicated-data
              - !host ../../east-1
            - !permit
              role: !group /conjur/replication-sets/east/replicated-data
              privilege: execute
              resource: !variable api/token
            """, mode, "apps/billing", file: "billing.yml");

        Assert.Equal(Sorted(
            "member group:apps/billing/readers <- group:conjur/replication-sets/east/replicated-data @policy:apps/billing",
            "member group:apps/billing/readers <- host:east-1 @policy:apps/billing",
            "permit group:conjur/replication-sets/east/replicated-data execute variable:apps/billing/api/token @policy:apps/billing"),
            await AddedSinceAsync(db, baseline));
        // replicated-data now holds readers' execute on db/password, and its own on api/token: east-1 receives both.
        string[] granted = ["default:variable:apps/billing/api/token", "default:variable:apps/billing/db/password"];
        Assert.Equal(granted, await db.GrantedAsync("east-1"));
        Assert.Equal(granted, await db.MaterialisedAsync("east-1"));
    }

    [Fact]
    public async Task Nested_bodies_of_one_file_state_each_statement_in_the_policy_that_encloses_its_subject()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var baseline = await AllAsync(db);

        await db.LoadAsync("""
            - !policy
              id: db
              body:
              - !variable password
              - !group secrets-users
              - !permit
                role: !group secrets-users
                privileges: [ read, execute ]
                resource: !variable password
              - !grant
                role: !group secrets-users
                member: !layer ../myapp
            - !policy
              id: myapp
              body:
              - !layer
              - !host app-01
              - !grant
                role: !layer
                member: !host app-01
            """);

        var added = await AddedSinceAsync(db, baseline);
        Assert.Contains("member group:db/secrets-users <- layer:myapp @policy:root", added);
        Assert.Contains("member layer:myapp <- host:myapp/app-01 @policy:root", added);
        Assert.Contains("permit group:db/secrets-users read variable:db/password @policy:root", added);
        Assert.Contains("permit group:db/secrets-users execute variable:db/password @policy:root", added);
        // app-01 reaches db/password through myapp and secrets-users, as Conjur's role graph gives.
        Assert.True(await Db.ScalarAsync<bool>(db.ConnectionString, """
            SELECT EXISTS (
                WITH RECURSIVE holds(role_id) AS (
                    SELECT 'default:host:myapp/app-01'::text
                    UNION SELECT m.role_id FROM role_memberships m JOIN holds h ON m.member_id = h.role_id)
                SELECT 1 FROM permissions p JOIN holds h ON p.role_id = h.role_id
                WHERE p.resource_id = 'default:variable:db/password' AND p.privilege = 'execute')
            """));

        // The same grant stated in myapp's body with the role absolute is what Conjur refuses.
        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => db.LoadAsync("""
            - !policy
              id: myapp
              body:
              - !grant
                role: !group /db/secrets-users
                member: !layer
            """, PolicyMode.Update, file: "myapp.yml"));
        Assert.StartsWith("myapp.yml:5:11: Illegal absolute id '/db/secrets-users'", error.Message, StringComparison.Ordinal);
    }
}
