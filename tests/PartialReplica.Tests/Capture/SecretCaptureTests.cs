using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Capture;

/// <summary>The capture triggers on the leader's secrets (F5) together with Conjur's pruning to 20 kept versions.</summary>
public sealed class SecretCaptureTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Each_insert_and_each_version_pruned_past_twenty_is_captured_in_its_own_transaction()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, "INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:c', 'default:user:admin')");
        for (var i = 1; i <= 22; i++)
        {
            await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:c', $1)", new byte[] { (byte)i });
        }

        Assert.Equal(
            Enumerable.Range(3, 20).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            await Db.ColumnAsync(leader, "SELECT s.version::text AS v FROM secrets s WHERE s.resource_id = 'default:variable:c' ORDER BY s.version"));

        // One upsert per insert; a delete of version 1 in the transaction of version 21, of 2 in that of 22 (the
        // pruning DELETE runs inside the insert, so its capture comes first).
        var captured = await Db.ColumnAsync(leader, """
            SELECT kind || ' ' || version || ' ' || dense_rank() OVER (ORDER BY tx)
              FROM partial_replica.changes WHERE resource_id = 'default:variable:c' ORDER BY tx, change_id
            """);
        Assert.Equal(
            Enumerable.Range(1, 20).Select(v => $"upsert {v} {v}").Concat(["delete 1 21", "upsert 21 21", "delete 2 22", "upsert 22 22"]),
            captured);
    }
}
