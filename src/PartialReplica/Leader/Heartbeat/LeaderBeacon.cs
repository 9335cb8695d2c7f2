using Npgsql;

namespace PartialReplica.Leader.Heartbeat;

/// <summary>
/// Makes sure a committed heartbeat carries a leader position at least as far as a batch's stamps before the batch
/// goes out, so the agent can tell, by its follower's replicated copy of the row, when it has replayed the policy the
/// gateway read. One beacon serves every follower worker of a gateway, and one write covers every request whose stamp
/// it covers: requests that arrive while a beat is being written wait for it, and at most one more beat (started after
/// they arrived, so at a position past their stamps) serves them all. A stamp already covered costs nothing.
/// </summary>
internal sealed class LeaderBeacon(HeartbeatWriter writer)
{
    // Never disposed: without its wait handle a SemaphoreSlim holds nothing to release.
    private readonly SemaphoreSlim _writing = new(1, 1);
    private long _covered;

    public LeaderBeacon(NpgsqlDataSource leader)
        : this(new HeartbeatWriter(leader))
    {
    }

    /// <summary>The highest position a beat written through this beacon has committed.</summary>
    public long Covered => Volatile.Read(ref _covered);

    /// <summary>Returns once a committed beat carries a position of at least <paramref name="stamp"/>.</summary>
    public async Task EnsureAsync(long stamp, CancellationToken cancellationToken)
    {
        if (Covered >= stamp)
        {
            return;
        }

        await _writing.WaitAsync(cancellationToken);
        try
        {
            // The beat this request waited behind may have covered it; else this one does, as it reads the leader's
            // position after the stamp was read.
            if (Covered < stamp)
            {
                Raise(await writer.BeatAsync(cancellationToken));
            }

            if (Covered < stamp)
            {
                throw new PartialReplicaException($"Stamp {stamp} is beyond the leader's WAL position {Covered}.");
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Writes a beat now (the periodic heartbeat); returns the position it carries.</summary>
    public async Task<long> BeatAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            var position = await writer.BeatAsync(cancellationToken);
            Raise(position);
            return position;
        }
        finally
        {
            _writing.Release();
        }
    }

    private void Raise(long position)
    {
        var seen = Volatile.Read(ref _covered);
        while (position > seen)
        {
            var previous = Interlocked.CompareExchange(ref _covered, position, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
