using PartialReplica.Policies;

namespace PartialReplica.UnitTests.Policies;

/// <summary>Ids resolve as Conjur resolves them: relative to the branch, absolute with '/', anchors shared.</summary>
public sealed class IdResolutionTests
{
    private const string Yaml = """
        - !policy
          id: apps
          owner: !group /ops
          body:
          - !webservice
          - &vars
            - !variable db/password
            - !variable api/token
          - !user alice
          - !host
            id: worker
            restricted_to: [10.0.0.0/8, 127.0.0.1]
          - !permit
            role: !user /example/annie
            privileges: [read, execute]
            resources: *vars
        """;

    [Fact]
    public void Relative_absolute_and_aliased_ids_resolve_in_the_branch()
    {
        var document = PolicyParser.Parse(Yaml, "p.yml", "default", "prod");

        var ids = document.Records.Select(r => r.Id.ToString()).ToList();
        Assert.Equal(
            [
                "default:policy:prod/apps", "default:webservice:prod/apps", "default:variable:prod/apps/db/password",
                "default:variable:prod/apps/api/token", "default:user:alice@prod-apps", "default:host:prod/apps/worker",
            ],
            ids);
        Assert.Equal("default:group:ops", document.Records[0].Owner.Id.ToString());
        Assert.Equal("default:policy:prod", document.Records[0].PolicyId.ToString());
        Assert.All(document.Records.Skip(1), r => Assert.Equal("default:policy:prod/apps", r.Owner.Id.ToString()));
        Assert.Equal(["10.0.0.0/8", "127.0.0.1"], document.Records[5].RestrictedTo);

        Assert.Equal(4, document.Permissions.Count);
        Assert.All(document.Permissions, p => Assert.Equal("default:user:annie@example", p.Role.Id.ToString()));
        Assert.Equal(
            ["default:variable:prod/apps/api/token", "default:variable:prod/apps/db/password"],
            document.Permissions.Select(p => p.Resource.Id.ToString()).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Marks_are_one_based_lines_and_columns()
    {
        var document = PolicyParser.Parse(Yaml, "p.yml", "default", "root");
        Assert.Equal(new SourceMark("p.yml", 1, 3), document.Records[0].Mark);
        Assert.Equal(new SourceMark("p.yml", 5, 5), document.Records[1].Mark);
    }
}
