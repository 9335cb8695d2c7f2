using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Policies;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>
/// The push path's state read (over the materialised grant table) answers exactly as the rule,
/// granted_variables, after the loads that change it: granted variables with their versions, revoked or
/// ungranted ones only as empty states when asked to send absence, nothing else.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class GrantBoundaryTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Push_state_reads_match_granted_variables_for_every_follower_and_the_full_set()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var dataSource = NpgsqlDataSource.Create(leader);
        var loader = new PolicyLoader(NullLogger.Instance);
        await loader.LoadAsync(dataSource, new PolicyLoadRequest { DataKey = TestDataKey.Key, PolicyText = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "policies", "demo.yml")) }, CancellationToken.None);
        await loader.LoadAsync(dataSource, new PolicyLoadRequest
        {
            DataKey = TestDataKey.Key,
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

        var hosts = new[] { "conjur/followers/east-1", "conjur/followers/west-1", "conjur/followers/everything", "conjur/followers/unknown" };
        foreach (var host in hosts)
        {
            await Db.ExecuteAsync(leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
                host, "default:host:" + host, "pr_" + Guid.NewGuid().ToString("N"));
        }

        var variables = await Db.ColumnAsync(leader, "SELECT resource_id FROM resources WHERE resource_id LIKE 'default:variable:%'");
        Assert.True(variables.Count >= 4);
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) SELECT unnest($1::text[]), '\\x0102'::bytea", new object?[] { variables.ToArray() });
        await AssertStatesMatchRuleAsync(leader, dataSource, hosts, variables);

        // A later load revokes part of a set; the table follows inside the load's transaction.
        await loader.LoadAsync(dataSource, new PolicyLoadRequest
        {
            DataKey = TestDataKey.Key,
            PolicyText = """
                - !revoke
                  role: !layer conjur/replication-sets/full/followers
                  member: !host conjur/followers/everything
                """,
            Mode = PolicyMode.Update,
        }, CancellationToken.None);
        await AssertStatesMatchRuleAsync(leader, dataSource, hosts, variables);

        Assert.Empty(await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_variables('default:host:conjur/followers/everything')"));
        Assert.Empty(await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_variables('default:host:conjur/followers/unknown')"));
    }

    private static async Task AssertStatesMatchRuleAsync(string leader, NpgsqlDataSource dataSource, string[] hosts, IReadOnlyList<string> variables)
    {
        await using var session = await dataSource.OpenConnectionAsync();
        var asked = variables.Append("default:variable:does/not/exist").Append("default:host:not-a-variable").ToArray();
        var absent = new HashSet<string>(asked.Take(2), StringComparer.Ordinal);
        foreach (var host in hosts)
        {
            var role = "default:host:" + host;
            var rule = (await Db.ColumnAsync(leader, "SELECT resource_id FROM partial_replica.granted_variables($1)", role)).ToHashSet(StringComparer.Ordinal);
            var states = await GrantedSecretsReader.ReadPushStatesAsync(session, role, asked, absent, CancellationToken.None);
            var expected = asked.Where(id => rule.Contains(id) || absent.Contains(id)).Order(StringComparer.Ordinal);
            Assert.Equal(expected, states.Select(s => s.Id).Order(StringComparer.Ordinal));
            foreach (var state in states)
            {
                Assert.Equal(rule.Contains(state.Id) ? [1] : Array.Empty<int>(), state.Versions.Select(v => v.Version));
                Assert.All(state.Versions, v => Assert.Equal(new byte[] { 1, 2 }, v.Value));
            }
        }
    }
}
