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
    public async Task Push_pages_cover_the_granted_set_and_Edge_keyset_and_offset_pages_its_secrets_once_in_order()
    {
        var db = await PolicyDatabase.CreateAsync(fixture);
        var variables = Enumerable.Range(0, 57).Select(i => $"- !variable v/{i:000}\n");
        await db.LoadAsync(PolicyDatabase.RepositoryPolicy("replica-sets.yml").Replace("NAME", "full", StringComparison.Ordinal)
            + string.Concat(variables) + "- !host f\n- !grant\n  role: !layer conjur/replication-sets/full/followers\n  member: !host f\n");
        await db.RegisterFollowerAsync("f");
        await db.RegisterFollowerAsync("nobody");

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        Assert.Equal(57, await GrantedSecretsReader.CountVariablesAsync(connection, "default:host:f", CancellationToken.None));
        Assert.Equal(0, await GrantedSecretsReader.CountVariablesAsync(connection, "default:host:nobody", CancellationToken.None));
        var expected = Enumerable.Range(0, 57).Select(i => $"default:variable:v/{i:000}").ToList();

        // The push's keyset pages carry every granted variable, with or without a value.
        await using var source = NpgsqlDataSource.Create(db.ConnectionString);
        var reader = new GrantedSecretsReader(source);
        var pushed = new List<string>();
        while (true)
        {
            var page = await reader.ReadPushPageAsync("default:host:f", pushed.Count == 0 ? "" : pushed[^1], 10, new PageReads(rangeAllowed: false), CancellationToken.None);
            if (page.Count == 0)
            {
                break;
            }

            Assert.All(page, state => Assert.Empty(state.Versions));
            pushed.AddRange(page.Select(state => state.Id));
        }

        Assert.Equal(expected, pushed);

        // The Edge's pages carry only variables with a value: every other one gets one (as Conjur writes it).
        Assert.Empty(await GrantedSecretsReader.ReadPageAsync(connection, "default:host:f", new GrantedPage(10), CancellationToken.None));
        var withValues = expected.Where((_, i) => i % 2 == 0).ToList();
        await Db.ExecuteAsync(db.ConnectionString, "INSERT INTO secrets (resource_id, value) SELECT unnest($1::text[]), '\\x01'::bytea",
            new object?[] { withValues.ToArray() });
        Assert.Equal(29, await GrantedSecretsReader.CountSecretsAsync(connection, "default:host:f", CancellationToken.None));

        var keyset = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await GrantedSecretsReader.ReadPageAsync(connection, "default:host:f", new GrantedPage(10, After: after), CancellationToken.None);
            if (page.Count == 0)
            {
                break;
            }

            Assert.True(page.Count == 10 || keyset.Count + page.Count == 29);
            keyset.AddRange(page.Select(secret => secret.Id));
            after = page[^1].Id;
        }

        var offset = new List<string>();
        for (var skip = 0; skip < 40; skip += 20)
        {
            offset.AddRange((await GrantedSecretsReader.ReadPageAsync(connection, "default:host:f", new GrantedPage(20, skip), CancellationToken.None))
                .Select(secret => secret.Id));
        }

        Assert.Equal(withValues, keyset);
        Assert.Equal(withValues, offset);
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
