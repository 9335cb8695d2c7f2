using System.Globalization;
using Npgsql;
using PartialReplica.Protocol;
using PartialReplica.Schema;

namespace PartialReplica.Follower;

/// <summary>What became of a pushed batch at the agent: applied (<see cref="Report"/>) or refused (<see cref="Refusal"/>).</summary>
public sealed record AdmissionResult(ApplyReport? Report, BatchRefusal? Refusal);

/// <summary>
/// The agent does not trust a push blindly (SPEC S6): a batch is applied only when it is addressed to this follower,
/// the follower has replayed the leader at least up to the batch's stamps (the replicated heartbeat carries the
/// leader's position), and the follower's own replicated policy grants every variable the batch would make
/// visible, by the same grant rule the leader uses (<c>partial_replica.granted_among</c>, common baseline). A refused
/// batch writes nothing but its row in <c>partial_replica.refusals</c>. Removals are not grant-checked (removing is
/// always safe) but their stamps are bounded like every other.
/// </summary>
/// <remarks>
/// The wait for the follower's replay ends when <paramref name="replays"/> reports a replayed beat (the follower's
/// heartbeat trigger notifies it) or at the next poll, whichever is first; without a watch, at the next poll.
/// </remarks>
public sealed class BatchAdmission(
    NpgsqlDataSource follower, BatchApplier applier, string followerName, string followerRoleId, AdmissionOptions options, TimeProvider time,
    ReplayWatch? replays = null)
{
    /// <summary>
    /// One statement, so one snapshot: the leader position the follower has replayed, and — only once that reaches
    /// the batch's stamp ($3) — which of the variables $2 the follower's replicated policy does not grant. The
    /// grant tables are then read at a replayed position at least as new as the one the gateway read them at.
    /// The variables ($2, distinct) are first only counted against the grant rule: when it grants as many as were
    /// asked about, it grants them all, and the list of the others (a set difference) is computed only for a refusal.
    /// </summary>
    private const string ReplayedAndUngranted = """
        WITH replayed AS (SELECT coalesce(max(h.leader_lsn), 0) AS lsn FROM partial_replica.heartbeat h)
        SELECT replayed.lsn,
               CASE WHEN replayed.lsn < $3 THEN NULL
                    WHEN (SELECT count(*) FROM partial_replica.granted_among($1, $2::text[])) = cardinality($2::text[]) THEN '{}'::text[]
                    ELSE ARRAY(
                        SELECT i.id FROM unnest($2::text[]) AS i(id)
                        EXCEPT
                        SELECT g.resource_id FROM partial_replica.granted_among($1, $2::text[]) g) END
          FROM replayed
        """;

    /// <summary>
    /// Checks the batch and, when it passes, applies it in the same transaction; a refusal is recorded. An applied batch
    /// is visible once its transaction commits and durable when this returns (see <see cref="BatchApplier.MakeDurableAsync"/>).
    /// </summary>
    public async Task<AdmissionResult> ApplyAsync(PushBatch batch, CancellationToken cancellationToken)
    {
        if (!string.Equals(batch.Follower, followerName, StringComparison.Ordinal))
        {
            return await RefuseAsync(batch, new BatchRefusal(RefusalReason.Misaddressed,
                $"addressed to follower {Shorten(batch.Follower)}, not {followerName}"), cancellationToken);
        }

        var stamp = batch.NewestStamp();
        // What would become visible: the newest state of each variable, when it holds versions.
        var shown = BatchApplier.Latest(batch.Variables).Values.Where(v => v.Versions.Count > 0).Select(v => v.Id).ToArray();
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        AppliedBatch applied;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            var refusal = await CheckAsync(connection, stamp, shown, cancellationToken);
            if (refusal is not null)
            {
                await transaction.RollbackAsync(cancellationToken);
                return await RefuseAsync(batch, refusal, cancellationToken);
            }

            applied = await applier.ApplyInAsync(connection, batch, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await BatchApplier.MakeDurableAsync(connection, applied, cancellationToken);
        return new AdmissionResult(applied.Report, null);
    }

    /// <summary>
    /// Waits until the follower has replayed the leader up to <paramref name="stamp"/> (read again at each replayed
    /// beat, and after short pauses, doubling), then asks its policy about <paramref name="shown"/>. Null when the
    /// batch may be applied.
    /// </summary>
    private async Task<BatchRefusal?> CheckAsync(NpgsqlConnection connection, long stamp, string[] shown, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var pause = options.FirstPollInterval;
        await using var command = ConnectionExtensions.Command(connection, ReplayedAndUngranted, followerRoleId, shown, stamp);
        while (true)
        {
            // Taken before the read: a beat replayed after the read still ends the wait below.
            var replayedBeat = replays?.Next;
            long replayed;
            string[]? ungranted;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                replayed = reader.GetInt64(0);
                ungranted = reader.IsDBNull(1) ? null : reader.GetFieldValue<string[]>(1);
            }

            if (ungranted is not null)
            {
                return ungranted.Length == 0 ? null : new BatchRefusal(RefusalReason.Ungranted,
                    $"{ungranted.Length} of {shown.Length} variables not granted to {followerName} by its replicated policy " +
                    $"(first: {Shorten(ungranted.Min(StringComparer.Ordinal)!)})");
            }

            var waited = time.GetElapsedTime(started);
            if (waited >= options.ReplayTimeout)
            {
                return new BatchRefusal(RefusalReason.BeyondReplayedPosition,
                    $"stamped {stamp.ToString(CultureInfo.InvariantCulture)}, beyond the replicated leader position " +
                    $"{replayed.ToString(CultureInfo.InvariantCulture)} after {waited.TotalMilliseconds:0} ms");
            }

            var remaining = options.ReplayTimeout - waited;
            var poll = Task.Delay(pause < remaining ? pause : remaining, time, cancellationToken);
            await (replayedBeat is null ? poll : Task.WhenAny(replayedBeat, poll));
            cancellationToken.ThrowIfCancellationRequested();
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, options.MaxPollInterval.Ticks));
        }
    }

    private async Task<AdmissionResult> RefuseAsync(PushBatch batch, BatchRefusal refusal, CancellationToken cancellationToken)
    {
        await using var connection = await follower.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO partial_replica.refusals (batch_id, gateway, reason, detail) VALUES ($1, $2, $3, $4)",
            cancellationToken, Shorten(batch.BatchId), Shorten(batch.Gateway), refusal.Code, refusal.Detail);
        return new AdmissionResult(null, refusal);
    }

    /// <summary>Names from the request, bounded (a forged batch may carry anything there).</summary>
    private static string Shorten(string? text) =>
        text is null ? "" : text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…");
}
