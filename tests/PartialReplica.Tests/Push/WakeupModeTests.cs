using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Capture;
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
    /// Standalone on a real leader (no LISTEN, so no notification reaches it): the gate wakes every worker only when it
    /// starts; after that it reads the outbox itself and hands on what it found. Turning busy it polls; turning idle
    /// it reads at once and again once writers' remembered answers have run out (a writer that found no gateway
    /// waiting skips the wake-up check for the next 50 ms, leader baseline, so its commit may not be notified); idle,
    /// it reads when notified (or at its fallback poll, a minute here), so commits nobody notified stay unread until then.
    /// </summary>
    [Fact]
    public async Task The_gate_wakes_every_worker_only_at_its_start_and_turning_idle_reads_at_once_and_when_writers_remembered_answers_have_run_out()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await CreateVariablesAsync(leader);
        await using var source = NpgsqlDataSource.Create(leader);
        var options = new DispatchOptions
        {
            InstanceId = "gate-under-test",
            PollInterval = TimeSpan.FromMinutes(1),

            // Busy polls 5 ms apart whatever they find; a writer committing every 10 ms does not keep the gate busy.
            HotPollInterval = TimeSpan.FromMilliseconds(5),
            QuietPollInterval = TimeSpan.FromMilliseconds(5),
            HotChanges = 200,
        };
        var gate = new WakeupGate(source, options, NullLogger.Instance);
        var wakes = 0;
        var reads = new List<(TimeSpan At, OutboxCursor To)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var running = gate.RunAsync(() => Interlocked.Increment(ref wakes), (_, to, _) =>
        {
            lock (reads)
            {
                reads.Add((clock.Elapsed, to));
            }
        }, stop.Token);
        try
        {
            await AwaitWaitingAsync(leader);
            await Eventually.HoldsAsync(() => Task.FromResult(Volatile.Read(ref wakes) == 1), "the starting gate's wake-up of every worker");

            // Busy, then idle again, while a writer commits every 10 ms (the workload's pace) until a second after.
            using var writing = new CancellationTokenSource();
            long lastCommitTicks = 0;
            var writer = Task.Run(async () =>
            {
                for (var i = 0; !writing.IsCancellationRequested; i++)
                {
                    await WriteAsync(leader, i % 100);
                    Interlocked.Exchange(ref lastCommitTicks, clock.Elapsed.Ticks);
                    await Task.Delay(10);
                }
            });
            gate.ReportChanges(options.HotChanges);
            await Eventually.HoldsAsync(
                async () => await Db.ScalarAsync<bool?>(leader, "SELECT bool_or(waiting) FROM partial_replica.listeners") == false,
                "the busy gate tells writers not to notify");
            await AwaitWaitingAsync(leader);
            await Task.Delay(TimeSpan.FromSeconds(1));
            await writing.CancelAsync();
            await writer;

            List<(TimeSpan At, OutboxCursor To)> seen;
            lock (reads)
            {
                seen = [.. reads];
            }

            Assert.Equal(1, Volatile.Read(ref wakes));
            Assert.True(seen.Count >= 3, $"the gate read {seen.Count} times");
            var (last, previous) = (seen[^1], seen[^2]);
            // The second read after turning idle comes WritersRemember after the turn, less the first read's time.
            Assert.True(last.At - previous.At >= WakeupGate.WritersRemember - TimeSpan.FromMilliseconds(30),
                $"the gate's last reads came {(last.At - previous.At).TotalMilliseconds:0} ms apart: no read once writers' remembered answers ran out");
            var lastCommit = TimeSpan.FromTicks(Interlocked.Read(ref lastCommitTicks));
            Assert.True(lastCommit - last.At >= TimeSpan.FromMilliseconds(500),
                $"the idle gate's last read came only {(lastCommit - last.At).TotalMilliseconds:0} ms before the last commit: it read without a notification");

            // A notification has it read what came since, at once.
            await using var session = await OutboxReader.OpenSessionAsync(source, CancellationToken.None);
            var horizon = await OutboxReader.HorizonAsync(session, CancellationToken.None);
            Assert.True(horizon.CompareTo(last.To) > 0);
            gate.Notified();
            await Eventually.HoldsAsync(() =>
            {
                lock (reads)
                {
                    return Task.FromResult(reads[^1].To == horizon);
                }
            }, "the notified gate reads up to the horizon");
            Assert.Equal(1, Volatile.Read(ref wakes));
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
