using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Push;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

public sealed class BatchApplyTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    private static readonly byte[] V1 = [(byte)'G', 1, 2, 3];
    private static readonly byte[] V2 = [(byte)'G', 0, 0, 9];

    [Fact]
    public async Task Replayed_duplicated_and_reordered_batches_end_in_the_newest_state()
    {
        var (follower, applier) = await NewFollowerAsync();
        var old = Batch(new VariableState("default:variable:a", 100, [new SecretVersion(1, V1, null)]));
        var newer = Batch(new VariableState("default:variable:a", 200, [new SecretVersion(1, V1, null), new SecretVersion(2, V2, null)]));

        await applier.ApplyAsync(newer, CancellationToken.None);
        var replayOld = await applier.ApplyAsync(old, CancellationToken.None);
        var duplicate = await applier.ApplyAsync(newer, CancellationToken.None);

        Assert.Equal(1, replayOld.Skipped);
        Assert.Equal(1, duplicate.Skipped);
        Assert.Equal(["default:variable:a 1", "default:variable:a 2"],
            await Db.ColumnAsync(follower, "SELECT resource_id || ' ' || version FROM secrets ORDER BY version"));
        Assert.Equal(V2, await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE version = 2"));
    }

    [Fact]
    public async Task A_revoked_secret_is_not_resurrected_by_an_older_batch()
    {
        var (follower, applier) = await NewFollowerAsync();
        var granted = Batch(new VariableState("default:variable:r", 10, [new SecretVersion(1, V1, null)]));
        var revoked = Batch(new VariableState("default:variable:r", 20, []));

        await applier.ApplyAsync(granted, CancellationToken.None);
        var revocation = await applier.ApplyAsync(revoked, CancellationToken.None);
        await applier.ApplyAsync(granted, CancellationToken.None);

        Assert.Equal(1, revocation.Deletes);
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));
        Assert.False(await Db.ScalarAsync<bool>(follower, "SELECT present FROM partial_replica.applied WHERE resource_id = 'default:variable:r'"));
    }

    [Fact]
    public async Task Values_and_ids_arrive_byte_exact()
    {
        var (follower, applier) = await NewFollowerAsync();
        var big = new byte[64 * 1024];
        new Random(7).NextBytes(big);
        var expires = new DateTime(2031, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        string[] ids = ["default:variable:empty", "default:variable:nul", "default:variable:big", "default:variable:ünï cödé/with \"quotes\" 'and' slashes"];
        var batch = Batch(
            new VariableState(ids[0], 5, [new SecretVersion(1, [], null)]),
            new VariableState(ids[1], 5, [new SecretVersion(3, [0, 0, (byte)'G', 0], expires)]),
            new VariableState(ids[2], 5, [new SecretVersion(1, big, null)]),
            new VariableState(ids[3], 5, [new SecretVersion(1, V1, null)]));

        var report = await applier.ApplyAsync(batch, CancellationToken.None);

        Assert.Equal(4, report.Upserts);
        Assert.Equal(Array.Empty<byte>(), await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE resource_id = $1", ids[0]));
        Assert.Equal(new byte[] { 0, 0, (byte)'G', 0 }, await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE resource_id = $1", ids[1]));
        Assert.Equal(expires, await Db.ScalarAsync<DateTime>(follower, "SELECT expires_at FROM secrets WHERE resource_id = $1", ids[1]));
        Assert.Equal(big, await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE resource_id = $1", ids[2]));
        Assert.Equal(V1, await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE resource_id = $1", ids[3]));
    }

    [Fact]
    public async Task A_first_state_replaces_rows_the_follower_holds_without_an_applied_state()
    {
        // The first state of a variable is copied in binary; rows put there by hand (no applied state)
        // must neither make the copy collide nor survive it.
        var (follower, applier) = await NewFollowerAsync();
        await Db.ExecuteAsync(follower, "INSERT INTO secrets (resource_id, version, value) VALUES ('default:variable:s', 1, '\\x00'), ('default:variable:s', 7, '\\x07')");

        var report = await applier.ApplyAsync(Batch(
            new VariableState("default:variable:s", 3, [new SecretVersion(1, V1, null), new SecretVersion(2, V2, null)]),
            new VariableState("default:variable:t", 3, [])), CancellationToken.None);

        Assert.Equal(2, report.Upserts);
        Assert.Equal(2, report.Deletes);
        Assert.Equal(["default:variable:s 1", "default:variable:s 2"],
            await Db.ColumnAsync(follower, "SELECT resource_id || ' ' || version FROM secrets ORDER BY version"));
        Assert.Equal(V1, await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE version = 1"));
        Assert.Equal(["default:variable:s 3 True", "default:variable:t 3 False"],
            await Db.ColumnAsync(follower, "SELECT resource_id || ' ' || stamp || ' ' || (CASE WHEN present THEN 'True' ELSE 'False' END) FROM partial_replica.applied ORDER BY 1"));
    }

    [Fact]
    public async Task Pruned_versions_leave_the_follower_and_the_log_names_the_gateway()
    {
        var (follower, applier) = await NewFollowerAsync();
        await applier.ApplyAsync(Batch(new VariableState("default:variable:p", 1, [new SecretVersion(1, V1, null), new SecretVersion(2, V2, null)])), CancellationToken.None);
        var report = await applier.ApplyAsync(Batch(new VariableState("default:variable:p", 2, [new SecretVersion(2, V2, null)])), CancellationToken.None);

        Assert.Equal(1, report.Deletes);
        Assert.Equal(0, report.Upserts);
        Assert.Equal(["2"], await Db.ColumnAsync(follower, "SELECT version FROM secrets"));
        Assert.Equal(["gateway-test", "gateway-test"], await Db.ColumnAsync(follower, "SELECT gateway FROM partial_replica.apply_log ORDER BY id"));
    }

    private static PushBatch Batch(params VariableState[] variables) =>
        new(Guid.NewGuid().ToString("N"), "gateway-test", "conjur/followers/east-1", variables);

    private async Task<(string Follower, BatchApplier Applier)> NewFollowerAsync()
    {
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "apply");
        var dataSource = NpgsqlDataSource.Create(follower);
        await new MigrationRunner(NullLogger.Instance).MigrateAsync(dataSource, DatabaseRole.Follower, CancellationToken.None);
        return (follower, new BatchApplier(dataSource));
    }
}
