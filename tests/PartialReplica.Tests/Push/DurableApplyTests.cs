using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Follower;
using PartialReplica.Protocol;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// The apply transaction commits without waiting for its flush (visible sooner); the agent answers only once it is
/// durable. A crash-like stop of the follower's server right after the answer must lose nothing answered.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DurableApplyTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Applied_batches_survive_a_crash_right_after_the_answer()
    {
        var server = await fixture.StartClusterAsync("durable-apply");
        // The WAL writer would otherwise flush an unflushed commit within 200 ms, possibly before the stop below; at its
        // longest round it does not, so only the apply's own flush can save the batches.
        await Db.ExecuteAsync(server.ConnectionString(), "ALTER SYSTEM SET wal_writer_delay = '10s'");
        await Db.ExecuteAsync(server.ConnectionString(), "SELECT pg_reload_conf()");
        var follower = server.ConnectionString(await server.CreateDatabaseAsync("durable", CancellationToken.None));
        await using (var dataSource = NpgsqlDataSource.Create(follower))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(dataSource, DatabaseRole.Follower, CancellationToken.None);
            var applier = new BatchApplier(dataSource);

            // A reconcile page (copied) and a change (merged): the two apply paths.
            var page = await applier.ApplyAsync(Batch(
                new VariableState("default:variable:d1", 10, [new SecretVersion(1, [1], null)]),
                new VariableState("default:variable:d2", 10, [new SecretVersion(1, [2], null)])) with
            {
                SweepBefore = 10, SweepAfter = "default:variable:d", SweepThrough = "default:variable:d2",
            }, CancellationToken.None);
            var change = await applier.ApplyAsync(Batch(
                new VariableState("default:variable:d1", 20, [new SecretVersion(1, [1], null), new SecretVersion(2, [3], null)])), CancellationToken.None);
            Assert.Equal((2, 1), (page.Upserts, change.Upserts));
        }

        await server.StopAsync(immediate: true, CancellationToken.None);
        await server.StartServerAsync(CancellationToken.None);

        Assert.Equal(["default:variable:d1 1", "default:variable:d1 2", "default:variable:d2 1"],
            await Db.ColumnAsync(follower, "SELECT resource_id || ' ' || version FROM secrets ORDER BY resource_id, version"));
        Assert.Equal(["default:variable:d1 20", "default:variable:d2 10"],
            await Db.ColumnAsync(follower, "SELECT resource_id || ' ' || stamp FROM partial_replica.applied ORDER BY resource_id"));
        Assert.Equal(2L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM partial_replica.apply_log"));
    }

    private static PushBatch Batch(params VariableState[] variables) =>
        new(Guid.NewGuid().ToString("N"), "gateway-test", "conjur/followers/east-1", variables);
}
