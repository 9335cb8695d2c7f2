using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Capture;

/// <summary>
/// A busy gateway wakes only the followers a burst concerns (OutboxReader.ConcernedAsync): new or deleted
/// versions concern the followers granted the variable, grants and revokes their one follower, a requeue
/// without a follower everyone; changes granted to nobody wake nobody, and the horizon still moves.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class ConcernedFollowersTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Each_kind_of_change_wakes_exactly_the_followers_it_concerns()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id) VALUES
                ('default:variable:a', 'default:user:admin'), ('default:variable:nobody', 'default:user:admin');
            INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES
                ('east', 'default:host:east', 'pr_east'), ('west', 'default:host:west', 'pr_west');
            INSERT INTO partial_replica.granted (follower_role_id, resource_id) VALUES ('default:host:east', 'default:variable:a');
            """);
        await using var dataSource = NpgsqlDataSource.Create(leader);
        await using var session = await OutboxReader.OpenSessionAsync(dataSource, CancellationToken.None);
        var start = await OutboxReader.HorizonAsync(session, CancellationToken.None);

        async Task<(OutboxCursor Horizon, long Count, string[] Followers, bool More)> AfterAsync(OutboxCursor from, string sql, int limit = 100)
        {
            await Db.ExecuteAsync(leader, sql);
            var fresh = await OutboxReader.ConcernedAsync(session, from, limit, CancellationToken.None);
            Assert.NotNull(fresh);
            return fresh.Value;
        }

        var nobody = await AfterAsync(start, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:nobody', '\\x01')");
        Assert.Empty(nobody.Followers);
        Assert.Equal(1, nobody.Count);
        Assert.True(nobody.Horizon.CompareTo(start) > 0);

        var upsert = await AfterAsync(nobody.Horizon, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:a', '\\x02')");
        Assert.Equal(["east"], upsert.Followers);

        var delete = await AfterAsync(upsert.Horizon, "DELETE FROM secrets WHERE resource_id = 'default:variable:a'");
        Assert.Equal(["east"], delete.Followers);

        var revoke = await AfterAsync(delete.Horizon,
            "INSERT INTO partial_replica.changes (kind, resource_id, follower) VALUES ('revoke', 'default:variable:nobody', 'west')");
        Assert.Equal(["west"], revoke.Followers);

        var requeue = await AfterAsync(revoke.Horizon,
            "INSERT INTO partial_replica.changes (kind, resource_id) VALUES ('requeue', 'default:variable:nobody')");
        Assert.Equal(["east", "west"], requeue.Followers.Order(StringComparer.Ordinal));

        Assert.Null(await OutboxReader.ConcernedAsync(session, requeue.Horizon, 100, CancellationToken.None));

        // A limit reached says so, and the horizon stops at the limit.
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) SELECT 'default:variable:nobody', '\\x03' FROM generate_series(1, 3)");
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:a', '\\x04')");
        var first = await OutboxReader.ConcernedAsync(session, requeue.Horizon, 3, CancellationToken.None);
        Assert.NotNull(first);
        Assert.True(first.Value.More);
        Assert.Equal(3, first.Value.Count);
        Assert.Empty(first.Value.Followers);
        var rest = await OutboxReader.ConcernedAsync(session, first.Value.Horizon, 3, CancellationToken.None);
        Assert.NotNull(rest);
        Assert.False(rest.Value.More);
        Assert.Equal(1, rest.Value.Count);
        Assert.Equal(["east"], rest.Value.Followers);
        Assert.Equal(await OutboxReader.HorizonAsync(session, CancellationToken.None), rest.Value.Horizon);
    }
}
