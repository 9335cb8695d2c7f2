using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// How a running gateway asks to be woken (WakeupGate): a trickle of commits is notified one by one (the
/// fastest wake-up, and commits that seldom overlap lose nothing to it); a burst turns notifications off (each
/// notifying commit serialises the leader's commits) until it is over.
/// </summary>
public sealed class WakeupModeTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    private const string Marker = "wakeup_mode_test_marker";

    [Fact]
    public async Task A_trickle_of_commits_is_notified_one_by_one_and_a_burst_turns_notifications_off_until_it_ends()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id)
            SELECT 'default:variable:wakeup/' || i, 'default:user:admin' FROM generate_series(0, 99) i
            """);
        var (gateway, _) = await WebHosts.StartGatewayAsync(leader);
        await using var stopGateway = gateway;
        await AwaitWaitingAsync(leader);

        // Every notification on the changes channel is counted; one on the marker channel, sent after a write,
        // says every notification of that write and before it has arrived (they are delivered in commit order).
        await using var listener = new NpgsqlConnection(leader);
        await listener.OpenAsync();
        var changes = 0;
        var markers = 0;
        listener.Notification += (_, e) =>
        {
            if (e.Channel == Marker)
            {
                Interlocked.Increment(ref markers);
            }
            else
            {
                Interlocked.Increment(ref changes);
            }
        };
        await using (var listen = new NpgsqlCommand($"LISTEN partial_replica_changes; LISTEN {Marker}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        using var stopListening = new CancellationTokenSource();
        var listening = Task.Run(async () =>
        {
            while (!stopListening.IsCancellationRequested)
            {
                await listener.WaitAsync(stopListening.Token);
            }
        });

        async Task<int> ChangesNotifiedAsync()
        {
            var before = Volatile.Read(ref markers);
            await Db.ExecuteAsync(leader, $"NOTIFY {Marker}");
            await Eventually.HoldsAsync(() => Task.FromResult(Volatile.Read(ref markers) > before), "the marker notification");
            return Volatile.Read(ref changes);
        }

        try
        {
            // A trickle, 20 commits a second (the workload's pace, not a wait for a condition): each one notified.
            for (var i = 0; i < 20; i++)
            {
                await WriteAsync(leader, i);
                await Task.Delay(50);
            }

            Assert.Equal(20, await ChangesNotifiedAsync());

            // A burst from two writers: after the first few, writers stop notifying.
            const int Burst = 1200;
            await Task.WhenAll(Enumerable.Range(0, 2).Select(async w =>
            {
                await using var connection = new NpgsqlConnection(leader);
                await connection.OpenAsync();
                for (var i = 0; i < Burst / 2; i++)
                {
                    await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x01')", connection);
                    insert.Parameters.Add(new NpgsqlParameter { Value = $"default:variable:wakeup/{(w * 50) + (i % 50)}" });
                    await insert.ExecuteNonQueryAsync();
                }
            }));
            var afterBurst = await ChangesNotifiedAsync();
            Assert.InRange(afterBurst - 20, 1, Burst / 3);

            // Once the burst is over, the gateway asks for notifications again, and a single commit is notified.
            await AwaitWaitingAsync(leader);
            await WriteAsync(leader, 0);
            Assert.Equal(afterBurst + 1, await ChangesNotifiedAsync());
        }
        finally
        {
            await stopListening.CancelAsync();
            await listening.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static Task WriteAsync(string leader, int variable) =>
        Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x02')", $"default:variable:wakeup/{variable}");

    private static Task AwaitWaitingAsync(string leader) =>
        Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<bool?>(leader, "SELECT bool_and(waiting) FROM partial_replica.listeners") == true,
            "the idle gateway asks for notifications");
}
