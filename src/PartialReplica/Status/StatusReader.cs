using Npgsql;
using PartialReplica.Push;
using PartialReplica.Schema;

namespace PartialReplica.Status;

/// <summary>
/// One follower's line in <c>status</c> (SPEC F9). Granted counts the granted variables that hold a value
/// (a variable without one has nothing to deliver), so a converged follower shows delivered = granted.
/// <c>SubscriptionEvent</c> is the last thing the gateway did to keep the follower's subscription flowing (S6: a
/// dropped slot recreated, the tables copied anew) and <c>SubscriptionEventAt</c> when.
/// </summary>
public sealed record FollowerStatusRow(
    string Name,
    IReadOnlyList<string> ReplicaSets,
    long Granted,
    long? Delivered,
    long Pending,
    long LagMs,
    string Subscription,
    string? LastError,
    string? SubscriptionEvent = null,
    DateTimeOffset? SubscriptionEventAt = null);

/// <summary>
/// Builds the status of every follower: grants, pending changes, lag and errors from the leader;
/// delivered counts and subscription state from each follower's own database, through its agent.
/// </summary>
public sealed class StatusReader(NpgsqlDataSource leader, Func<FollowerEndpoint, CancellationToken, Task<LocalStatus>> probe)
{
    /// <summary>
    /// A reader that asks each follower's agent for its own counts, with push tokens from <paramref name="tokens"/>
    /// (the gateway's, or <see cref="SignedPushTokens.ForLeader"/> for tools beside it).
    /// </summary>
    public static StatusReader WithAgents(NpgsqlDataSource leader, HttpClient http, IPushTokenSource tokens) =>
        new(leader, new AgentStatusClient(http, tokens).ReadAsync);

    public async Task<IReadOnlyList<FollowerStatusRow>> ReadAsync(CancellationToken cancellationToken)
    {
        var rows = new List<(FollowerEndpoint Endpoint, IReadOnlyList<string> Sets, long Granted, long Pending, long LagMs, string? Error,
            string? Event, DateTimeOffset? EventAt)>();
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            await using var command = ConnectionExtensions.Command(connection, """
                SELECT f.name, f.role_id, f.agent_url,
                       ARRAY(SELECT split_part(s.set_id, 'conjur/replication-sets/', 2)
                               FROM partial_replica.follower_replica_sets(f.role_id) s ORDER BY 1),
                       (SELECT count(*) FROM partial_replica.granted_variables(f.role_id) g
                         WHERE EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = g.resource_id)),
                       pending.n, COALESCE(pending.lag_ms, 0), d.last_error, d.needs_reconcile,
                       f.subscription_event, f.subscription_event_at
                  FROM partial_replica.followers f
                  JOIN partial_replica.delivery d ON d.follower = f.name
                  CROSS JOIN LATERAL (
                      SELECT count(*) AS n,
                             (extract(epoch FROM clock_timestamp() - min(c.created_at)) * 1000)::bigint AS lag_ms
                        FROM partial_replica.changes c
                       WHERE (c.tx, c.change_id) > (d.last_tx, d.last_change_id)
                         AND (c.follower IS NULL OR c.follower = f.name)) pending
                 ORDER BY f.name
                """);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var granted = reader.GetInt64(4);
                // A follower owed a full reconcile has its whole granted set pending.
                var pending = reader.GetInt64(5) + (reader.GetBoolean(8) ? granted : 0);
                rows.Add((new FollowerEndpoint(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)),
                    reader.GetFieldValue<string[]>(3), granted, pending, reader.GetInt64(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10)));
            }
        }

        var result = new List<FollowerStatusRow>(rows.Count);
        foreach (var row in rows)
        {
            LocalStatus? local = null;
            string? probeError = null;
            try
            {
                local = await probe(row.Endpoint, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or PartialReplicaException)
            {
                probeError = $"agent unreachable: {e.Message}";
            }

            result.Add(new FollowerStatusRow(row.Endpoint.Name, row.Sets, row.Granted, local?.Delivered, row.Pending, row.LagMs,
                local?.Subscription ?? "unknown", row.Error ?? probeError ?? Refused(local?.LastRefusal), row.Event, row.EventAt));
        }

        return result;
    }

    private static string? Refused(string? refusal) => refusal is null ? null : "agent refused a batch: " + refusal;
}
