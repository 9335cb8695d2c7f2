using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Policies.Conformance.ConjurRows;

namespace PartialReplica.Tests.Policies.Conformance;

/// <summary>
/// Ids resolve as Conjur's resolver resolves them: a record keeps the id its declaring policy gave it wherever an
/// alias takes it, users outside root are <c>name@branch</c>, <c>../</c> climbs from the enclosing policy, and ids
/// may hold spaces and backslashes. Loaded at root and into a nested branch.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class IdQualificationTests(ReplicationFixture fixture)
{
    private const string SharedSecrets = """
        - !policy
          id: db
          body:
          - &db-secrets
            - !variable password
            - !variable 'backup key\primary'
        - !policy
          id: app
          body:
          - &app-layer !layer
          - !permit
            role: *app-layer
            privileges: [ read, execute ]
            resources: *db-secrets
          - !permit
            role: !layer ../app
            privilege: update
            resources: [ *app-layer ]
        """;

    [Theory]
    [InlineData("root", "", "@policy:root")]
    [InlineData("prod", "prod/", "@policy:prod")]
    public async Task An_aliased_record_keeps_the_id_its_declaring_policy_gave_it(string branch, string prefix, string at)
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync("- !policy\n  id: prod\n");
        var baseline = await AllAsync(db);

        await db.LoadAsync(SharedSecrets, branch: branch);

        var permits = (await AddedSinceAsync(db, baseline)).Where(r => r.StartsWith("permit ", StringComparison.Ordinal)).ToList();
        Assert.Equal(Sorted(
            $"permit layer:{prefix}app read variable:{prefix}db/password {at}",
            $"permit layer:{prefix}app execute variable:{prefix}db/password {at}",
            $"permit layer:{prefix}app read variable:{prefix}db/backup key\\primary {at}",
            $"permit layer:{prefix}app execute variable:{prefix}db/backup key\\primary {at}",
            $"permit layer:{prefix}app update layer:{prefix}app {at}"), permits);
        Assert.Equal(1L, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT count(*) FROM resources WHERE resource_id = $1", $"default:variable:{prefix}db/backup key\\primary"));
    }

    [Fact]
    public async Task Users_in_a_policy_are_name_at_policy_and_members_may_be_admins()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var baseline = await AllAsync(db);

        await db.LoadAsync("""
            - !policy
              id: dev-team
              body:
              - !user alice
              - !group developers
              - !grant
                role: !group developers
                member: !user alice
            - !group reviewers
            - !grant
              role: !group reviewers
              members:
              - !user alice@dev-team
              - !member
                role: !group /dev-team/developers
                admin: true
            """);

        Assert.Equal(Sorted(
            "role policy:dev-team @policy:root",
            "resource policy:dev-team owner user:admin @policy:root",
            "member policy:dev-team <- user:admin admin ownership @policy:root",
            "role user:alice@dev-team @policy:root",
            "resource user:alice@dev-team owner policy:dev-team @policy:root",
            "member user:alice@dev-team <- policy:dev-team admin ownership @policy:root",
            "role group:dev-team/developers @policy:root",
            "resource group:dev-team/developers owner policy:dev-team @policy:root",
            "member group:dev-team/developers <- policy:dev-team admin ownership @policy:root",
            "member group:dev-team/developers <- user:alice@dev-team @policy:root",
            "role group:reviewers @policy:root",
            "resource group:reviewers owner user:admin @policy:root",
            "member group:reviewers <- user:admin admin ownership @policy:root",
            "member group:reviewers <- user:alice@dev-team @policy:root",
            "member group:reviewers <- group:dev-team/developers admin @policy:root"), await AddedSinceAsync(db, baseline));
    }

    [Fact]
    public async Task Realistic_deep_nesting_loads_with_full_ids()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        const int depth = 25;
        var yaml = new System.Text.StringBuilder();
        for (var level = 0; level < depth; level++)
        {
            var indent = new string(' ', level * 4);
            yaml.Append(indent).Append("- !policy\n").Append(indent).Append($"  id: level-{level}\n").Append(indent).Append("  body:\n");
        }

        yaml.Append(new string(' ', depth * 4)).Append("- !variable secret\n");

        await db.LoadAsync(yaml.ToString());

        var path = string.Join('/', Enumerable.Range(0, depth).Select(l => $"level-{l}"));
        Assert.Equal($"default:policy:{path}", await Db.ScalarAsync<string>(db.ConnectionString,
            "SELECT owner_id FROM resources WHERE resource_id = $1", $"default:variable:{path}/secret"));
        Assert.Equal(depth + 1L, await Db.ScalarAsync<long>(db.ConnectionString,
            "SELECT count(*) FROM resources WHERE policy_id = 'default:policy:root' AND resource_id LIKE 'default:%:level-0%'"));
    }
}
