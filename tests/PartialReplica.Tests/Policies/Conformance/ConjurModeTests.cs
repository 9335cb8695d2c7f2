using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Policies.Conformance.ConjurRows;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>
/// load (POST), update (PATCH) and replace (PUT) of one branch give Conjur's rows: POST adds rows and changes
/// none, PATCH brings the branch's rows to the file (annotation values, admin options), PUT also removes what the
/// file omits; explicit deletions run first, so a permit and a deny of one privilege in one file leave it permitted.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ConjurModeTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Post_patch_and_put_of_a_branch_give_Conjurs_rows()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: app\n");
        var baseline = await AllAsync(db);
        string[] records =
        [
            "role group:app/admins @policy:app",
            "resource group:app/admins owner policy:app @policy:app",
            "member group:app/admins <- policy:app admin ownership @policy:app",
            "role host:app/web @policy:app",
            "resource host:app/web owner policy:app @policy:app",
            "member host:app/web <- policy:app admin ownership @policy:app",
        ];

        await db.LoadAsync("""
            - !group
              id: admins
              annotations:
                team: ops
            - !host web
            - !variable key
            - !permit
              role: !host web
              privilege: read
              resource: !variable key
            """, branch: "app");
        await db.LoadAsync("""
            - !group
              id: admins
              annotations:
                team: security
                tier: one
            """, branch: "app");

        string[] variable = ["resource variable:app/key owner policy:app @policy:app", "permit host:app/web read variable:app/key @policy:app"];
        Assert.Equal(Sorted([.. records, .. variable, "annotation group:app/admins team=ops @policy:app", "annotation group:app/admins tier=one @policy:app"]),
            await AddedSinceAsync(db, baseline));

        await db.LoadAsync("""
            - !group
              id: admins
              annotations:
                team: security
            - !grant
              role: !group admins
              member: !member
                role: !host web
                admin: true
            """, PolicyMode.Update, branch: "app");

        Assert.Equal(Sorted([.. records, .. variable, "annotation group:app/admins team=security @policy:app", "annotation group:app/admins tier=one @policy:app",
            "member group:app/admins <- host:app/web admin @policy:app"]), await AddedSinceAsync(db, baseline));

        await db.LoadAsync("""
            - !group admins
            - !host web
            - !grant
              role: !group admins
              member: !host web
            """, PolicyMode.Replace, branch: "app");

        Assert.Equal(Sorted([.. records, "member group:app/admins <- host:app/web @policy:app"]), await AddedSinceAsync(db, baseline));
        Assert.Equal(baseline, (await AllAsync(db)).Except(await AddedSinceAsync(db, baseline)).ToList());
    }

    [Fact]
    public async Task Permit_and_deny_of_one_privilege_in_one_file_leave_it_permitted()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("""
            - !group g
            - !variable v
            - !permit
              role: !group g
              privileges: [ read, execute ]
              resource: !variable v
            """);

        await db.LoadAsync("""
            - !deny
              role: !group g
              privileges: [ read, execute ]
              resource: !variable v
            - !permit
              role: !group g
              privilege: read
              resource: !variable v
            """, PolicyMode.Update);

        Assert.Equal(["permit group:g read variable:v @policy:root"],
            (await AllAsync(db)).Where(r => r.StartsWith("permit ", StringComparison.Ordinal)));
    }
}
