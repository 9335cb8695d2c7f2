using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Schema;

public sealed class MigrationTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Migrating_twice_applies_nothing_the_second_time()
    {
        var database = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "migrate");
        await using var dataSource = NpgsqlDataSource.Create(database);
        var runner = new MigrationRunner(NullLogger.Instance);

        var first = await runner.MigrateAsync(dataSource, DatabaseRole.Leader, CancellationToken.None);
        var second = await runner.MigrateAsync(dataSource, DatabaseRole.Leader, CancellationToken.None);

        Assert.Equal(Migration.All.Where(m => m.AppliesTo(DatabaseRole.Leader)).Select(m => m.Version), first);
        Assert.Empty(second);
    }

    [Fact]
    public async Task Follower_schema_has_the_same_tables_but_no_foreign_keys_and_no_trigger_but_the_replayed_beat_notice()
    {
        var leader = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "leader");
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "follower");
        await using (var l = NpgsqlDataSource.Create(leader))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(l, DatabaseRole.Leader, CancellationToken.None);
        }

        await using (var f = NpgsqlDataSource.Create(follower))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(f, DatabaseRole.Follower, CancellationToken.None);
        }

        const string tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1";
        Assert.Equal(await Db.ColumnAsync(leader, tables), await Db.ColumnAsync(follower, tables));
        // The one trigger notifies the agent of each replayed heartbeat; it fires for the apply worker (enabled always).
        Assert.Equal(["partial_replica.heartbeat heartbeat_replayed A"], await Db.ColumnAsync(follower,
            "SELECT tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"));
        Assert.True(await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'secrets'::regclass") == 1);

        // A secret may arrive before its resource on a follower.
        await Db.ExecuteAsync(follower, "INSERT INTO secrets (resource_id, version, value) VALUES ('default:variable:early', 3, '\\x47'::bytea)");
        Assert.Equal(3, await Db.ScalarAsync<int>(follower, "SELECT version FROM secrets"));
    }

    [Fact]
    public async Task A_leader_database_cannot_be_migrated_as_a_follower()
    {
        var database = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "both");
        await using var dataSource = NpgsqlDataSource.Create(database);
        var runner = new MigrationRunner(NullLogger.Instance);
        await runner.MigrateAsync(dataSource, DatabaseRole.Leader, CancellationToken.None);

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => runner.MigrateAsync(dataSource, DatabaseRole.Follower, CancellationToken.None));
        Assert.Contains("already a leader", error.Message, StringComparison.Ordinal);
    }
}
