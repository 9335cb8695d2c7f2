using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Policies.Conformance.ConjurRows;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>
/// Policies written the way Conjur's documentation writes them load unchanged, and give exactly the rows Conjur's
/// loader gives: every row stamped with the loaded branch, records owned by their enclosing policy (at root by the
/// root policy's owner, the admin user), owners members of what they own with admin option.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ConjurDocsPolicyTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Host_factory_takes_the_policy_id_and_joins_its_layers()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var baseline = await AllAsync(db);

        await db.LoadAsync("""
            - !policy
              id: myapp
              body:
              - !layer
              - !layer workers
              - !host-factory
                annotations:
                  description: Factory for myapp hosts
                layers: [ workers, !layer ]
            """);

        Assert.Equal(Sorted(
            "role policy:myapp @policy:root",
            "resource policy:myapp owner user:admin @policy:root",
            "member policy:myapp <- user:admin admin ownership @policy:root",
            "role layer:myapp @policy:root",
            "resource layer:myapp owner policy:myapp @policy:root",
            "member layer:myapp <- policy:myapp admin ownership @policy:root",
            "role layer:myapp/workers @policy:root",
            "resource layer:myapp/workers owner policy:myapp @policy:root",
            "member layer:myapp/workers <- policy:myapp admin ownership @policy:root",
            "role host_factory:myapp @policy:root",
            "resource host_factory:myapp owner policy:myapp @policy:root",
            "member host_factory:myapp <- policy:myapp admin ownership @policy:root",
            "annotation host_factory:myapp description=Factory for myapp hosts @policy:root",
            "member layer:myapp <- host_factory:myapp @policy:root",
            "member layer:myapp/workers <- host_factory:myapp @policy:root"), await AddedSinceAsync(db, baseline));
    }

    [Fact]
    public async Task Jwt_authenticator_loads_in_its_branch_with_branch_policy_ids()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: conjur/authn-jwt\n");
        var baseline = await AllAsync(db);

        await db.LoadAsync("""
            - !policy
              id: github
              body:
              - !webservice
                annotations:
                  description: Authenticator for GitHub Actions
              - !variable jwks-uri
              - !variable issuer
              - !group apps
              - !permit
                role: !group apps
                privilege: [ read, authenticate ]
                resource: !webservice
              - !webservice status
              - !permit
                role: !group apps
                privilege: read
                resource: !webservice status
            """, branch: "conjur/authn-jwt");

        const string gh = "conjur/authn-jwt/github";
        const string at = "@policy:conjur/authn-jwt";
        Assert.Equal(Sorted(
            $"role policy:{gh} {at}",
            $"resource policy:{gh} owner policy:conjur/authn-jwt {at}",
            $"member policy:{gh} <- policy:conjur/authn-jwt admin ownership {at}",
            $"resource webservice:{gh} owner policy:{gh} {at}",
            $"annotation webservice:{gh} description=Authenticator for GitHub Actions {at}",
            $"resource variable:{gh}/jwks-uri owner policy:{gh} {at}",
            $"resource variable:{gh}/issuer owner policy:{gh} {at}",
            $"role group:{gh}/apps {at}",
            $"resource group:{gh}/apps owner policy:{gh} {at}",
            $"member group:{gh}/apps <- policy:{gh} admin ownership {at}",
            $"permit group:{gh}/apps read webservice:{gh} {at}",
            $"permit group:{gh}/apps authenticate webservice:{gh} {at}",
            $"resource webservice:{gh}/status owner policy:{gh} {at}",
            $"permit group:{gh}/apps read webservice:{gh}/status {at}"), await AddedSinceAsync(db, baseline));
    }

    [Fact]
    public async Task Custom_kinds_user_attributes_and_public_keys_are_stored_as_Conjur_stores_them()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var baseline = await AllAsync(db);

        await db.LoadAsync("""
            - !resource
              kind: database
              id: payments-db
              annotations:
                tier: gold
            - !role
              kind: department
              id: finance
            - !group
              id: dbas
              gidnumber: 2001
            - !user
              id: bob
              uidnumber: 1001
              public_keys:
              - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ bob@laptop
            - !permit
              role: !role { kind: department, id: finance }
              privilege: read
              resource: !resource { kind: database, id: payments-db }
            - !grant
              role: !role { kind: department, id: finance }
              member: !group dbas
            """);

        Assert.Equal(Sorted(
            "resource database:payments-db owner user:admin @policy:root",
            "annotation database:payments-db tier=gold @policy:root",
            "role department:finance @policy:root",
            "role group:dbas @policy:root",
            "resource group:dbas owner user:admin @policy:root",
            "member group:dbas <- user:admin admin ownership @policy:root",
            "annotation group:dbas conjur/gidnumber=2001 @policy:root",
            "role user:bob @policy:root",
            "resource user:bob owner user:admin @policy:root",
            "member user:bob <- user:admin admin ownership @policy:root",
            "annotation user:bob conjur/uidnumber=1001 @policy:root",
            "resource public_key:user/bob/bob@laptop owner user:admin @policy:root",
            "permit department:finance read database:payments-db @policy:root",
            "member department:finance <- group:dbas @policy:root"), await AddedSinceAsync(db, baseline));
    }

    [Fact]
    public async Task Empty_policies_load_in_every_mode_and_replace_empties_the_branch()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: app\n");
        await db.LoadAsync("- !variable a\n", branch: "app");
        var withA = await AllAsync(db);

        var load = await db.LoadAsync("---\n", branch: "app");
        var update = await db.LoadAsync("--- []\n", PolicyMode.Update, branch: "app");
        Assert.Equal(withA, await AllAsync(db));
        await db.LoadAsync("--- []\n", PolicyMode.Update);

        var replace = await db.LoadAsync("---\n", PolicyMode.Replace, branch: "app");

        Assert.Equal([2, 3, 4], new[] { load.Version, update.Version, replace.Version });
        Assert.Equal(["resource variable:app/a owner policy:app @policy:app"], withA.Except(await AllAsync(db)));
        Assert.Empty((await AllAsync(db)).Except(withA));
    }
}
