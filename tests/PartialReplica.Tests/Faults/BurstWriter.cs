using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Faults;

/// <summary>
/// Writer tasks that keep committing single-row secret changes on the leader (mostly new versions, which
/// also prune past Conjur's 20 kept; now and then a deleted oldest version) across granted and ungranted
/// variables, until stopped. A write that fails because the leader went away is retried: what counts is
/// what the leader holds in the end, which the followers are compared against.
/// </summary>
internal sealed class BurstWriter
{
    private readonly CancellationTokenSource _stop = new();
    private Task _writers = Task.CompletedTask;
    private int _writes;
    private int _failures;

    private BurstWriter()
    {
    }

    /// <summary>Committed writes so far.</summary>
    public int Writes => Volatile.Read(ref _writes);

    /// <summary>Writes that failed (the leader was unreachable) and were retried.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>When the last write committed.</summary>
    public DateTime LastCommitAt { get; private set; }

    public static BurstWriter Start(TestWorld world, int writers, int seed)
    {
        var burst = new BurstWriter();
        burst._writers = Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(() => burst.WriteAsync(world, seed * 100 + i))));
        return burst;
    }

    /// <summary>Waits until at least <paramref name="count"/> writes have committed.</summary>
    public async Task ReachedAsync(int count, string what)
    {
        await Infrastructure.Eventually.HoldsAsync(() => Task.FromResult(Writes >= count || _writers.IsCompleted), $"{count} writes ({what})");
        if (_writers.IsCompleted)
        {
            // A writer failed on something other than the leader being away: surface it.
            await _writers;
        }
    }

    /// <summary>Stops the writers and waits for them; rethrows a writer's failure.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        await _writers;
    }

    private async Task WriteAsync(TestWorld world, int seed)
    {
        var random = new Random(seed);
        while (!_stop.IsCancellationRequested)
        {
            var id = FaultWorld.All[random.Next(FaultWorld.All.Length)];
            var delete = random.Next(20) == 0;
            var value = new byte[random.Next(0, 300)];
            random.NextBytes(value);
            try
            {
                if (delete)
                {
                    await Infrastructure.Db.ExecuteAsync(world.Leader, """
                        DELETE FROM secrets WHERE resource_id = $1
                           AND version = (SELECT min(version) FROM secrets WHERE resource_id = $1)
                        """, id);
                }
                else
                {
                    await world.SetSecretAsync(id, value);
                }

                LastCommitAt = DateTime.UtcNow;
                Interlocked.Increment(ref _writes);
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
            {
                // The leader is restarting; the next attempt reconnects.
                Interlocked.Increment(ref _failures);
                await Task.Delay(20);
            }
        }
    }
}
