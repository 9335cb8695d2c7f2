using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Follower;
using PartialReplica.Leader.Heartbeat;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// A push waits at the agent until the follower has replayed the leader's heartbeat up to its stamps (SPEC S6). The
/// follower's heartbeat trigger notifies each replayed beat (applied by the subscription through the relay), so the
/// wait ends then, not at the agent's next poll. The agent listens for it, and listens again when its backend is
/// terminated.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ReplayWatchTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";

    private const string WatchBackends = """
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 ORDER BY pid
        """;

    [Fact]
    public async Task Each_replayed_beat_is_notified_and_the_watch_listens_again_after_its_backend_is_terminated()
    {
        // No dispatcher: the test's beats are the only ones.
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Gateway(new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" })
            .Follower(East, 0)
            .StartAsync();
        var follower = world.FollowerDb(East);

        // The agent runs a watch of its own.
        await Eventually.HoldsAsync(async () => (await Db.ColumnAsync(follower, WatchBackends, ReplayWatch.ApplicationName)).Count == 1,
            "the agent listens for replayed beats");

        await using var source = NpgsqlDataSource.Create(follower);
        var watch = new ReplayWatch(source, NullLogger<ReplayWatch>.Instance);
        using var stop = new CancellationTokenSource();
        var running = watch.RunAsync(stop.Token);
        try
        {
            await WatchedAsync(world, follower, watch);
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private static async Task WatchedAsync(TestWorld world, string follower, ReplayWatch watch)
    {
        var beacon = new LeaderBeacon(world.LeaderSource);
        await watch.Listening.WaitAsync(Eventually.DefaultDeadline);

        // Only notifications move this on: without the trigger, or with the apply worker not firing it, the first wait
        // times out. A beat is replayed once the follower's row carries its position.
        async Task BeatIsNotifiedAsync()
        {
            var notified = watch.Next;
            var position = await beacon.BeatAsync(CancellationToken.None);
            await notified.WaitAsync(Eventually.DefaultDeadline);
            while (true)
            {
                var next = watch.Next;
                if (await Db.ScalarAsync<long>(follower, "SELECT leader_lsn FROM partial_replica.heartbeat") >= position)
                {
                    return;
                }

                await next.WaitAsync(Eventually.DefaultDeadline);
            }
        }

        await BeatIsNotifiedAsync();
        await BeatIsNotifiedAsync();

        var pids = await Db.ColumnAsync(follower, WatchBackends, ReplayWatch.ApplicationName);
        Assert.Equal(2, pids.Count);
        Assert.Equal(2L, await Db.ScalarAsync<long>(follower,
            "SELECT count(*) FROM pg_stat_activity a, pg_terminate_backend(a.pid) t WHERE a.datname = current_database() AND a.application_name = $1 AND t",
            ReplayWatch.ApplicationName));
        await Eventually.HoldsAsync(async () =>
            {
                var now = await Db.ColumnAsync(follower, WatchBackends, ReplayWatch.ApplicationName);
                return now.Count == 2 && !now.Intersect(pids).Any();
            }, "both watches listen again, on new backends");
        await watch.Listening.WaitAsync(Eventually.DefaultDeadline);
        await BeatIsNotifiedAsync();
    }
}
