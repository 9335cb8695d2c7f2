using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Capture;

[Collection(LeaderServersCollection.Name)]
public sealed class OutboxPruningTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Pruning_removes_only_changes_every_follower_is_past()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:p', 'default:user:admin');
            INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ('fast', 'default:host:fast', 'pr_fast'), ('slow', 'default:host:slow', 'pr_slow');
            INSERT INTO partial_replica.delivery (follower) VALUES ('fast'), ('slow');
            """);
        for (var i = 0; i < 6; i++)
        {
            await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:p', $1)", new byte[] { (byte)'G', (byte)i });
        }

        var ids = (await Db.ColumnAsync(leader, "SELECT change_id FROM partial_replica.changes ORDER BY tx, change_id")).Select(long.Parse).ToList();
        Assert.Equal(6, ids.Count);
        await Db.ExecuteAsync(leader, """
            UPDATE partial_replica.delivery d SET last_tx = c.tx, last_change_id = c.change_id
              FROM partial_replica.changes c
             WHERE c.change_id = CASE d.follower WHEN 'fast' THEN $1 ELSE $2 END
            """, ids[5], ids[2]);

        await using var dataSource = NpgsqlDataSource.Create(leader);
        var pruned = await new OutboxReader(dataSource).PruneAsync(CancellationToken.None);

        Assert.Equal(3, pruned);
        Assert.Equal(ids.Skip(3).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            await Db.ColumnAsync(leader, "SELECT change_id FROM partial_replica.changes ORDER BY tx, change_id"));
    }
}
