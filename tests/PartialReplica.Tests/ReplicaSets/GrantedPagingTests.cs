using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tests.Policies;

namespace PartialReplica.Tests.ReplicaSets;

/// <summary>F7: a follower's granted variables page by keyset and offset in id order, and count exactly.</summary>
[Collection(PolicyCollection.Name)]
public sealed class GrantedPagingTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Keyset_and_offset_pages_cover_the_granted_set_once_in_order()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var variables = Enumerable.Range(0, 57).Select(i => $"- !variable v/{i:000}\n");
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("replica-sets.yml").Replace("NAME", "full", StringComparison.Ordinal)
            + string.Concat(variables) + "- !host f\n- !grant\n  role: !layer conjur/replication-sets/full/followers\n  member: !host f\n");
        await db.RegisterFollowerAsync("f");
        await db.RegisterFollowerAsync("nobody");

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        Assert.Equal(57, await GrantedVariables.CountAsync(connection, "default:host:f", CancellationToken.None));
        Assert.Equal(0, await GrantedVariables.CountAsync(connection, "default:host:nobody", CancellationToken.None));

        var keyset = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await GrantedVariables.PageAfterAsync(connection, "default:host:f", after, 10, CancellationToken.None);
            if (page.Count == 0)
            {
                break;
            }

            keyset.AddRange(page);
            after = page[^1];
        }

        var offset = new List<string>();
        for (var skip = 0; skip < 60; skip += 20)
        {
            offset.AddRange(await GrantedVariables.PageAsync(connection, "default:host:f", skip, 20, CancellationToken.None));
        }

        var expected = Enumerable.Range(0, 57).Select(i => $"default:variable:v/{i:000}").ToList();
        Assert.Equal(expected, keyset);
        Assert.Equal(expected, offset);
    }

    [Fact]
    public async Task Replica_sets_are_listed_with_their_follower_and_variable_counts()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("demo.yml"));
        await db.RegisterFollowerAsync("conjur/followers/east-1");
        await db.RegisterFollowerAsync("conjur/followers/west-1");

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        var sets = await ReplicaSetCatalog.ListAsync(connection, "default", CancellationToken.None);

        Assert.Equal(
            [
                new ReplicaSetSummary("east", "default:webservice:conjur/replication-sets/east", 1, 3),
                new ReplicaSetSummary("west", "default:webservice:conjur/replication-sets/west", 1, 2),
            ],
            sets);
    }
}
