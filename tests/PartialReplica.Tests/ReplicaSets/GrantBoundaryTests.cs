using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>The push path's per-variable check (granted_among) answers exactly as granted_variables.</summary>
public sealed class GrantBoundaryTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Granted_among_equals_granted_variables_for_every_follower_and_the_full_set()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var dataSource = NpgsqlDataSource.Create(leader);
        var loader = new PolicyLoader(NullLogger.Instance);
        await loader.LoadAsync(dataSource, new PolicyLoadRequest { PolicyText = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")) }, CancellationToken.None);
        await loader.LoadAsync(dataSource, new PolicyLoadRequest
        {
            PolicyText = """
                - !host conjur/followers/everything
                - !policy
                  id: conjur/replication-sets/full
                  body:
                  - !webservice
                  - !layer followers
                  - !permit
                    role: !layer followers
                    privilege: replicate
                    resource: !webservice
                - !grant
                  role: !layer conjur/replication-sets/full/followers
                  member: !host conjur/followers/everything
                """,
        }, CancellationToken.None);

        var variables = await Db.ColumnAsync(leader, "SELECT resource_id FROM resources WHERE resource_id LIKE 'default:variable:%'");
        Assert.True(variables.Count >= 4);
        foreach (var host in new[] { "conjur/followers/east-1", "conjur/followers/west-1", "conjur/followers/everything", "conjur/followers/unknown" })
        {
            var role = "default:host:" + host;
            var whole = await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_variables($1) ORDER BY 1", role);
            var among = await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_among($1, $2) ORDER BY 1",
                role, variables.Append("default:variable:does/not/exist").Append("default:host:not-a-variable").ToArray());
            Assert.Equal(whole, among);
        }

        Assert.Equal(variables.Order(StringComparer.Ordinal), (await Db.ColumnAsync(leader,
            "SELECT resource_id FROM partial_replica.granted_variables('default:host:conjur/followers/everything')")).Order(StringComparer.Ordinal));
        Assert.Empty(await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_variables('default:host:conjur/followers/unknown')"));
    }
}
