using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// How a running gateway asks to be woken (WakeupGate): a trickle of commits is notified one by one (the
/// fastest wake-up, and commits that seldom overlap lose nothing to it); a burst turns notifications off (each
/// notifying commit serialises the leader's commits) until it is over.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class WakeupModeTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task A_trickle_of_commits_is_notified_one_by_one_and_a_burst_turns_notifications_off_until_it_ends()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await CreateVariablesAsync(leader);
        var (gateway, _) = await WebHosts.StartGatewayAsync(leader);
        await using var stopGateway = gateway;
        await AwaitWaitingAsync(leader);

        await using var notifications = await ChangeNotifications.ListenAsync(leader);

        // A trickle, 20 commits a second (the workload's pace, not a wait for a condition): each one notified.
        for (var i = 0; i < 20; i++)
        {
            await WriteAsync(leader, i);
            await Task.Delay(50);
        }

        Assert.Equal(20, await notifications.CountAsync());

        // A burst from two writers: after the first few, writers stop notifying.
        const int Burst = 1200;
        await WriteFromTwoWritersAsync(leader, 0x01, i => i < Burst / 2);
        var afterBurst = await notifications.CountAsync();
        Assert.InRange(afterBurst - 20, 1, Burst / 3);

        // Once the burst is over, the gateway asks for notifications again, and a single commit is notified.
        await AwaitWaitingAsync(leader);
        await WriteAsync(leader, 0);
        Assert.Equal(afterBurst + 1, await notifications.CountAsync());
    }

    /// <summary>
    /// A writer that found no gateway waiting skips the wake-up check for the next 50 ms (leader baseline), so a write in
    /// the moment a gateway turns idle may not notify. Turning idle, the gate wakes every worker at once and
    /// again once such remembered answers have run out, not only at the workers' fallback poll.
    /// </summary>
    [Fact]
    public async Task Turning_idle_the_gate_wakes_the_workers_at_once_and_again_when_writers_remembered_answers_have_run_out()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await using var source = NpgsqlDataSource.Create(leader);
        var gate = new WakeupGate(source, new DispatchOptions { InstanceId = "gate-under-test" }, NullLogger.Instance);
        var wakes = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        int Wakes()
        {
            lock (wakes)
            {
                return wakes.Count;
            }
        }

        using var stop = new CancellationTokenSource();
        var running = gate.RunAsync(() =>
        {
            lock (wakes)
            {
                wakes.Add(clock.Elapsed);
            }
        }, (_, _, _) => { }, stop.Token);
        try
        {
            // Starting idle counts as turning idle: two wake-ups.
            await AwaitWaitingAsync(leader);
            await Eventually.HoldsAsync(() => Task.FromResult(Wakes() == 2), "the starting gate's two wake-ups");

            // Busy (one wake-up: notifications are off from here on), then idle again once the changes stop.
            gate.ReportChanges(new DispatchOptions().HotChanges);
            await Eventually.HoldsAsync(() => Task.FromResult(Wakes() == 5), "the wake-up on turning busy and the two on turning idle");
            await AwaitWaitingAsync(leader);

            lock (wakes)
            {
                Assert.True(wakes[4] - wakes[3] >= WakeupGate.WritersRemember, $"the second wake-up came {wakes[4] - wakes[3]} after the first");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    /// <summary>
    /// On a real leader with no follower, so that no change concerns anyone: while writers keep the gate busy, its
    /// polls that find changes come no closer together than the quiet interval once the waits have grown to it.
    /// </summary>
    [Fact]
    public async Task A_busy_gate_finding_only_changes_no_follower_holds_polls_at_the_quiet_interval()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await CreateVariablesAsync(leader);
        await using var source = NpgsqlDataSource.Create(leader);
        var options = new DispatchOptions
        {
            InstanceId = "quiet-gate",
            HotPollInterval = TimeSpan.FromMilliseconds(10),
            QuietPollInterval = TimeSpan.FromMilliseconds(250),

            // Busy throughout however slow the machine, and every poll reads all that came (no back-to-back reads).
            HotPeriod = TimeSpan.FromSeconds(5),
            BatchSize = 1_000_000,
        };
        var gate = new WakeupGate(source, options, NullLogger.Instance);
        var polls = new List<(TimeSpan At, int Concerned)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var running = gate.RunAsync(() => { }, (_, _, concerned) =>
        {
            lock (polls)
            {
                polls.Add((clock.Elapsed, concerned.Count));
            }
        }, stop.Token);
        try
        {
            await AwaitWaitingAsync(leader);

            // Writers keep the gate busy (a dispatcher's notifications would have turned it so; none listens here)
            // until it has examined twelve polls' worth of changes.
            using var enough = new CancellationTokenSource();
            var writing = WriteFromTwoWritersAsync(leader, 0x03, _ => !enough.IsCancellationRequested);
            gate.ReportChanges(options.HotChanges);
            await Eventually.HoldsAsync(() =>
            {
                lock (polls)
                {
                    return Task.FromResult(polls.Count >= 12);
                }
            }, "twelve polls that found changes");
            await enough.CancelAsync();
            await writing;

            lock (polls)
            {
                Assert.All(polls, p => Assert.Equal(0, p.Concerned));

                // The waits double from 10 ms (20, 40, 80, 160, 250): from the sixth poll on, polls that found changes
                // are at least the quiet interval apart (less a millisecond of timer granularity).
                var gaps = polls.Zip(polls.Skip(1), (a, b) => b.At - a.At).Skip(5).Take(6).ToList();
                Assert.All(gaps, gap => Assert.True(
                    gap >= options.QuietPollInterval - TimeSpan.FromMilliseconds(1), $"polls {gap.TotalMilliseconds:0} ms apart"));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    /// <summary>The hundred variables every test here writes: <c>default:variable:wakeup/0</c> to <c>/99</c>.</summary>
    private static Task CreateVariablesAsync(string leader) =>
        Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id)
            SELECT 'default:variable:wakeup/' || i, 'default:user:admin' FROM generate_series(0, 99) i
            """);

    /// <summary>Two writers, each on its own connection and fifty variables, commit one version per write while <paramref name="more"/> says so.</summary>
    private static Task WriteFromTwoWritersAsync(string leader, byte value, Func<int, bool> more) =>
        Task.WhenAll(Enumerable.Range(0, 2).Select(async w =>
        {
            await using var connection = new NpgsqlConnection(leader);
            await connection.OpenAsync();
            for (var i = 0; more(i); i++)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", connection);
                insert.Parameters.Add(new NpgsqlParameter { Value = $"default:variable:wakeup/{(w * 50) + (i % 50)}" });
                insert.Parameters.Add(new NpgsqlParameter { Value = new[] { value } });
                await insert.ExecuteNonQueryAsync();
            }
        }));

    private static Task WriteAsync(string leader, int variable) =>
        Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x02')", $"default:variable:wakeup/{variable}");

    private static Task AwaitWaitingAsync(string leader) =>
        Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<bool?>(leader, "SELECT bool_and(waiting) FROM partial_replica.listeners") == true,
            "the idle gateway asks for notifications");
}
