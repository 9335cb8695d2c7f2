using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Follower;
using PartialReplica.Protocol;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

[Collection(EndToEndCollection.Name)]
public sealed class BatchApplyTests(ReplicationFixture fixture)
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
        // Rows put there by hand (no applied state) must neither make the first state collide nor survive it:
        // version 1 is overwritten, version 7 removed.
        var (follower, applier) = await NewFollowerAsync();
        await Db.ExecuteAsync(follower, "INSERT INTO secrets (resource_id, version, value) VALUES ('default:variable:s', 1, '\\x00'), ('default:variable:s', 7, '\\x07')");

        var report = await applier.ApplyAsync(Batch(
            new VariableState("default:variable:s", 3, [new SecretVersion(1, V1, null), new SecretVersion(2, V2, null)]),
            new VariableState("default:variable:t", 3, [])), CancellationToken.None);

        Assert.Equal(2, report.Upserts);
        Assert.Equal(1, report.Deletes);
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

    /// <summary>
    /// A reconcile's batches each sweep their id range (R3): in it, secrets whose applied state is older than the
    /// reconcile's first stamp, or that have none, leave (tombstoned unless the batch carries them); outside it
    /// nothing changes; the last batch sweeps the rest. The same holds whether the follower's ids compare byte by
    /// byte (collation C, where the agent reads by range) or not (where it reads by id list).
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("C.utf8")]
    public async Task A_reconcile_sweeps_page_by_page_range_by_range(string? collation)
    {
        var (follower, applier) = await NewFollowerAsync();
        if (collation is not null)
        {
            await Db.ExecuteAsync(follower, $"""
                ALTER TABLE secrets ALTER COLUMN resource_id TYPE text COLLATE "{collation}";
                ALTER TABLE partial_replica.applied ALTER COLUMN resource_id TYPE text COLLATE "{collation}";
                """);
        }

        string Id(string name) => $"default:variable:{name}";
        await applier.ApplyAsync(Batch(
            new VariableState(Id("a"), 10, [new SecretVersion(1, V1, null)]),
            new VariableState(Id("b"), 10, [new SecretVersion(1, V1, null)]),
            new VariableState(Id("d"), 10, [new SecretVersion(1, V1, null)]),
            new VariableState(Id("e"), 200, [new SecretVersion(1, V1, null)])), CancellationToken.None);
        await Db.ExecuteAsync(follower, "INSERT INTO secrets (resource_id, version, value) VALUES ($1, 7, $2)", Id("c"), V2);

        // First page, through c: a gets its new state, b (not granted now) and c's stray row leave, c arrives.
        var page = await applier.ApplyAsync(Batch(
            new VariableState(Id("a"), 150, [new SecretVersion(2, V2, null)]),
            new VariableState(Id("c"), 150, [new SecretVersion(1, V1, null)])) with { SweepBefore = 100, SweepThrough = Id("c") },
            CancellationToken.None);

        Assert.Equal((2, 3), (page.Upserts, page.Deletes));
        Assert.Equal([$"{Id("a")} 2 {Convert.ToHexString(V2)}", $"{Id("c")} 1 {Convert.ToHexString(V1)}", $"{Id("d")} 1 {Convert.ToHexString(V1)}", $"{Id("e")} 1 {Convert.ToHexString(V1)}"],
            await SecretsAsync(follower));
        Assert.Equal([$"{Id("a")} 150 True", $"{Id("b")} 99 False", $"{Id("c")} 150 True", $"{Id("d")} 10 True", $"{Id("e")} 200 True"],
            await AppliedAsync(follower));

        // The last batch, after c: d (older than the reconcile) leaves; e, pushed newer meanwhile, stays.
        var last = await applier.ApplyAsync(Batch() with { SweepBefore = 100, SweepAfter = Id("c"), SweepEnd = 300 }, CancellationToken.None);

        Assert.Equal(1, last.Deletes);
        Assert.Equal([$"{Id("a")} 2 {Convert.ToHexString(V2)}", $"{Id("c")} 1 {Convert.ToHexString(V1)}", $"{Id("e")} 1 {Convert.ToHexString(V1)}"],
            await SecretsAsync(follower));
        Assert.Equal([$"{Id("a")} 150 True", $"{Id("b")} 99 False", $"{Id("c")} 150 True", $"{Id("d")} 300 False", $"{Id("e")} 200 True"],
            await AppliedAsync(follower));

        // Tombstones hold: pushes older than them bring nothing back.
        var stale = await applier.ApplyAsync(Batch(
            new VariableState(Id("b"), 50, [new SecretVersion(1, V1, null)]),
            new VariableState(Id("d"), 250, [new SecretVersion(1, V1, null)])), CancellationToken.None);
        Assert.Equal(2, stale.Skipped);
        Assert.Equal(3, (await SecretsAsync(follower)).Count);
    }

    /// <summary>
    /// A reconcile sends a page while the one before is still applied; pages of disjoint ranges hold the apply
    /// lock shared and commit side by side, and the last batch (exclusive) sweeps after them: the follower ends
    /// exact, whatever the interleaving.
    /// </summary>
    [Fact]
    public async Task Reconcile_pages_applied_side_by_side_end_exact()
    {
        var (follower, applier) = await NewFollowerAsync();
        string Id(int i) => $"default:variable:side/{i:D5}";
        await applier.ApplyAsync(Batch(new VariableState(Id(99_999), 10, [new SecretVersion(1, V1, null)])), CancellationToken.None);
        PushBatch Page(int from, int count, string? after) => Batch(Enumerable.Range(from, count)
            .Select(i => new VariableState(Id(i), 150, [new SecretVersion(1, [(byte)'G', (byte)(i % 251)], null)])).ToArray())
            with { SweepBefore = 100, SweepAfter = after, SweepThrough = Id(from + count - 1) };

        var pages = await Task.WhenAll(
            Enumerable.Range(0, 4).Select(p => applier.ApplyAsync(Page(p * 2_000, 2_000, p == 0 ? null : Id((p * 2_000) - 1)), CancellationToken.None)));
        var last = await applier.ApplyAsync(Batch() with { SweepBefore = 100, SweepAfter = Id(7_999), SweepEnd = 300 }, CancellationToken.None);

        Assert.All(pages, report => Assert.Equal((2_000, 2_000, 0), (report.Variables, report.Upserts, report.Deletes)));
        Assert.Equal(1, last.Deletes);
        Assert.Equal(Enumerable.Range(0, 8_000).Select(i => $"{Id(i)} 1 47{i % 251:X2}"), await SecretsAsync(follower));
        Assert.Equal(8_001L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM partial_replica.applied"));
    }

    [Fact]
    public async Task Warming_up_runs_the_apply_path_and_changes_nothing()
    {
        var (follower, applier) = await NewFollowerAsync();
        await applier.ApplyAsync(Batch(new VariableState("default:variable:w", 5, [new SecretVersion(1, V1, null)])), CancellationToken.None);
        const string Log = "SELECT batch_id || ' ' || variables || ' ' || upserts FROM partial_replica.apply_log ORDER BY id";
        var before = (await SecretsAsync(follower), await AppliedAsync(follower), await Db.ColumnAsync(follower, Log));

        await applier.WarmUpAsync(CancellationToken.None);

        Assert.Equal(before.Item1, await SecretsAsync(follower));
        Assert.Equal(before.Item2, await AppliedAsync(follower));
        Assert.Equal(before.Item3, await Db.ColumnAsync(follower, Log));
        Assert.Single(before.Item3);
    }

    private static Task<List<string>> SecretsAsync(string follower) => Db.ColumnAsync(follower,
        "SELECT resource_id || ' ' || version || ' ' || upper(encode(value, 'hex')) FROM secrets ORDER BY resource_id COLLATE \"C\", version");

    private static Task<List<string>> AppliedAsync(string follower) => Db.ColumnAsync(follower,
        "SELECT resource_id || ' ' || stamp || ' ' || CASE WHEN present THEN 'True' ELSE 'False' END FROM partial_replica.applied ORDER BY resource_id COLLATE \"C\"");

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
