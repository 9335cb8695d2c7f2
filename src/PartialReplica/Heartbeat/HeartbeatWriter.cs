using Npgsql;

namespace PartialReplica.Heartbeat;

/// <summary>
/// Bumps the published heartbeat row so every follower's slot confirms WAL even when no published
/// table changes (a quiet publication on a busy leader would otherwise retain WAL without bound).
/// </summary>
public sealed class HeartbeatWriter(NpgsqlDataSource leader)
{
    /// <summary>Writes one beat; returns its timestamp.</summary>
    public async Task<DateTime> BeatAsync(CancellationToken cancellationToken)
    {
        await using var command = leader.CreateCommand("""
            INSERT INTO partial_replica.heartbeat (id, beat_at) VALUES (1, clock_timestamp())
            ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at
            RETURNING beat_at
            """);
        return (DateTime)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Beats every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            await BeatAsync(cancellationToken);
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }
}
