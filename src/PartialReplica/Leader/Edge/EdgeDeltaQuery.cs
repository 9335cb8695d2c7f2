using System.Data;
using Npgsql;
using PartialReplica.Grants;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Edge;

/// <summary>
/// Delta pulls (F13): what changed in a follower's granted set since a position (<see cref="EdgePosition"/>), read
/// from the change outbox, each variable with its current state read through the same granted reader as the full pull
/// (<see cref="GrantedSecretsReader"/>).
/// </summary>
/// <remarks>
/// <para>
/// <b>Which variables.</b> A delta since X, up to Y (the leader's snapshot <c>xmin</c> when the first page is read;
/// every transaction below Y has ended), names each variable touched by an outbox row of a transaction in [X, Y) that
/// concerns the caller follower F (role R):
/// a <c>grant</c> or <c>revoke</c> row for F (its materialised granted set gained or lost the variable: a grant
/// changed, or the variable was deleted and its permissions went with it); or an <c>upsert</c>, <c>delete</c> or
/// <c>requeue</c> row for everyone (or for F) of a variable F is granted now. Variables whose state did not change
/// are not named. The rows are read as the push path reads them (<see cref="Capture.OutboxReader"/>), so a row that
/// commits late cannot fall behind a position.
/// </para>
/// <para>
/// <b>What each carries.</b> Its current state, read in the same snapshot: granted to R now (by the materialised
/// <c>partial_replica.granted</c>, the full pull's reader) with at least one stored version → all kept
/// versions, exactly as the full pull shows them; otherwise a tombstone, and the client drops the variable.
/// </para>
/// <para>
/// <b>No leak.</b> A variable never granted to R appears in no answer, not even as a tombstone: a tombstone is sent
/// only for a variable that is granted to R now (left without values) or that has a <c>grant</c>/<c>revoke</c> row
/// for F after X — F held it at some point after X (a deleted variable that F held has such a revoke row; a deleted
/// one F never held has none). Change rows for other followers are never read.
/// </para>
/// <para>
/// <b>Why the client ends exact.</b> A client holding the state as of its position X has, for every variable, a copy
/// read after every transaction below X ended. A variable changed afterwards was changed by a transaction numbered X or
/// above: in [X, Y) it is named here and read again now; at Y or above it is named by the next delta. States read
/// later than Y are only newer, and the next delta re-sends them, so applying them is idempotent.
/// </para>
/// <para>
/// <b>Latency.</b> Y is the oldest transaction still running anywhere on the leader's server (transaction ids are
/// server-wide), so a long transaction — a relay database on the same server applying a bulk load, say — holds
/// deltas back until it ends, as it holds back pushes. Nothing is lost meanwhile; the changes come in a later delta.
/// </para>
/// <para>
/// <b>When a position cannot be answered</b> (<see cref="EdgeDeltaOutcome.Gone"/>): a prune deleted a change of a
/// transaction at or after X (<c>partial_replica.outbox_pruned</c>), F registered in or after X
/// (<c>followers.registered_tx</c>: grant rows exist only while F is registered), or the leader has not reached X.
/// A caller that is not a registered follower has no deltas at all (<see cref="EdgeDeltaOutcome.NotAFollower"/>).
/// </para>
/// <para>
/// Each page is read in one REPEATABLE READ transaction, so the answerability check, the outbox rows and the states
/// agree with each other and with a prune running at the same time.
/// </para>
/// </remarks>
public static class EdgeDeltaQuery
{
    // Where the leader stands for this caller: the snapshot's xmin (the newest position it can give), the prune
    // horizon, and the caller's registration.
    private const string StandingSql = """
        SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
               (SELECT p.tx::text::bigint FROM partial_replica.outbox_pruned p),
               f.name, f.registered_tx::text::bigint
          FROM (SELECT 1) AS one
          LEFT JOIN partial_replica.followers f ON f.role_id = $1
        """;

    // The ids the delta names, by the rule above, after the continuation's id, bytewise. The range is an index
    // scan of the outbox's primary key; the grant probe is a scalar subquery, one index lookup per row (as in
    // OutboxReader).
    private const string ChangedIdsSql = """
        SELECT DISTINCT c.resource_id COLLATE "C"
          FROM partial_replica.changes c
         WHERE c.tx >= $1::text::xid8 AND c.tx < $2::text::xid8
           AND ($3::text IS NULL OR c.resource_id COLLATE "C" > $3::text COLLATE "C")
           AND CASE WHEN c.kind IN ('grant', 'revoke') THEN c.follower = $4
                    ELSE (c.follower IS NULL OR c.follower = $4)
                         AND (SELECT 1 FROM partial_replica.granted g
                               WHERE g.follower_role_id = $5 AND g.resource_id = c.resource_id) IS NOT NULL END
         ORDER BY 1
         LIMIT $6
        """;

    /// <summary>
    /// The changes of <paramref name="followerRoleId"/>'s granted set since <paramref name="since"/>, at most
    /// <paramref name="limit"/> variables; <see cref="EdgeDelta.More"/> when the delta goes on (send
    /// <see cref="EdgeDelta.Next"/> for the rest). See the type's remarks for the rule.
    /// </summary>
    public static async Task<EdgeDelta> ReadAsync(
        NpgsqlDataSource leader, string followerRoleId, EdgePosition since, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            var delta = await ReadOnAsync(connection, followerRoleId, since, limit, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return delta;
        }
        catch (PostgresException)
        {
            PreparedStatementReset.After(connection);
            throw;
        }
    }

    /// <summary>
    /// The position a full pull starts deltas from, read on <paramref name="connection"/> before the pull reads its
    /// page (so no change can fall between); null when the caller is not a registered follower (no deltas).
    /// </summary>
    public static async Task<EdgePosition?> PositionOnAsync(NpgsqlConnection connection, string followerRoleId, CancellationToken cancellationToken)
    {
        var standing = await StandingAsync(connection, followerRoleId, cancellationToken);
        return standing.Follower is null ? null : new EdgePosition(standing.Xmin);
    }

    private static async Task<EdgeDelta> ReadOnAsync(
        NpgsqlConnection connection, string followerRoleId, EdgePosition since, int limit, CancellationToken cancellationToken)
    {
        var standing = await StandingAsync(connection, followerRoleId, cancellationToken);
        if (standing.Follower is null)
        {
            return EdgeDelta.NotAFollower;
        }

        var until = since.Until ?? standing.Xmin;
        if (since.Since > until || until > standing.Xmin || standing.PrunedTx >= since.Since || standing.RegisteredTx >= since.Since)
        {
            return EdgeDelta.Gone;
        }

        if (since.Since == until)
        {
            return new EdgeDelta(EdgeDeltaOutcome.Answered, [], new EdgePosition(until), false);
        }

        var ids = new List<string>();
        await using (var command = ConnectionExtensions.Command(connection, ChangedIdsSql,
            Text(since.Since), Text(until), new NpgsqlParameter { Value = (object?)since.After ?? DBNull.Value, DataTypeName = "text" },
            standing.Follower, followerRoleId, limit + 1))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        var more = ids.Count > limit;
        if (more)
        {
            ids.RemoveAt(ids.Count - 1);
        }

        IReadOnlyList<EdgeChange> changes = ids.Count == 0 ? [] :
            [.. (await GrantedSecretsReader.ReadStatesAsync(connection, followerRoleId, ids, cancellationToken)).Select(s => new EdgeChange(s.Id, s.Versions))];
        var next = more ? new EdgePosition(since.Since, until, ids[^1]) : new EdgePosition(until);
        return new EdgeDelta(EdgeDeltaOutcome.Answered, changes, next, more);
    }

    private static async Task<Standing> StandingAsync(NpgsqlConnection connection, string followerRoleId, CancellationToken cancellationToken)
    {
        await using var command = ConnectionExtensions.Command(connection, StandingSql, followerRoleId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("The standing query returns one row.");
        }

        return new Standing(
            reader.GetInt64(0),
            reader.GetInt64(1),
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? 0 : reader.GetInt64(3));
    }

    private static string Text(long transactionId) => transactionId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed record Standing(long Xmin, long PrunedTx, string? Follower, long RegisteredTx);
}
