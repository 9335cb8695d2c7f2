using Npgsql;
using PartialReplica.Follower;
using PartialReplica.Grants;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Gateways;
using PartialReplica.Schema;

namespace PartialReplica.Status;

/// <summary>
/// One follower's line in <c>status</c> (SPEC F9). Granted counts the granted variables that hold a value
/// (a variable without one has nothing to deliver), so a converged follower shows delivered = granted.
/// <c>SubscriptionEvent</c> is the last thing the gateway did to keep the follower's subscription flowing (S6: a
/// dropped slot recreated, the tables copied anew) and <c>SubscriptionEventAt</c> when. <c>LastError</c> names the
/// cause of the current failing stretch (agent unreachable, follower database refusing connections, a refused
/// batch), <c>LastErrorSince</c> when the stretch began, <c>Breaker</c> the push breaker's state while it pauses
/// pushes; <c>RetainedWalBytes</c> is the WAL the follower's slot holds back on the relay (null when unreadable).
/// <c>ServedBy</c> is the live gateway whose worker holds the follower (recorded on the leader, so every gateway
/// shows the same); null while none does (between a gateway's death and the takeover, or with no gateway running).
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
    DateTimeOffset? SubscriptionEventAt = null,
    DateTimeOffset? LastPushAt = null,
    long? RetainedWalBytes = null,
    DateTimeOffset? LastErrorSince = null,
    string? Breaker = null,
    IReadOnlyList<RecentError>? RecentErrors = null,
    string? ServedBy = null);

/// <summary>
/// Builds the status of every follower: grants, pending changes, lag and errors from the leader; retained WAL
/// from the relay (when <c>relay</c> gives its admin data source); delivered counts and subscription state from
/// each follower's own database, through its agent.
/// </summary>
public sealed class StatusReader(
    NpgsqlDataSource leader,
    Func<FollowerEndpoint, CancellationToken, Task<LocalStatus>> probe,
    Func<CancellationToken, Task<NpgsqlDataSource?>>? relay = null)
{
    /// <summary>
    /// A reader that asks each follower's agent for its own counts, with push tokens from <paramref name="tokens"/>
    /// (the gateway's, or <see cref="SignedPushTokens.ForLeader"/> for tools beside it).
    /// </summary>
    public static StatusReader WithAgents(
        NpgsqlDataSource leader, HttpClient http, IPushTokenSource tokens, Func<CancellationToken, Task<NpgsqlDataSource?>>? relay = null) =>
        new(leader, new AgentStatusClient(http, tokens).ReadAsync, relay);

    private sealed record LeaderRow(
        FollowerEndpoint Endpoint, string Slot, IReadOnlyList<string> Sets, long Granted, long Pending, long LagMs, string? Error,
        string? Event, DateTimeOffset? EventAt, DateTimeOffset? LastPushAt, DateTimeOffset? ErrorSince, string? Breaker, string? ServedBy);

    /// <summary>The whole status document: every follower (<see cref="ReadAsync"/>) and the live gateways.</summary>
    public async Task<StatusDocument> ReadDocumentAsync(CancellationToken cancellationToken)
    {
        var followers = await ReadAsync(cancellationToken);
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        return new StatusDocument(followers, await GatewayRegistry.ReadLiveAsync(connection, cancellationToken));
    }

    public async Task<IReadOnlyList<FollowerStatusRow>> ReadAsync(CancellationToken cancellationToken)
    {
        var rows = new List<LeaderRow>();
        Dictionary<string, List<RecentError>> recent;
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            await using (var command = ConnectionExtensions.Command(connection, $"""
                SELECT f.name, f.role_id, f.agent_url,
                       ARRAY(SELECT split_part(s.set_id, 'conjur/replication-sets/', 2)
                               FROM partial_replica.follower_replica_sets(f.role_id) s ORDER BY 1),
                       {GrantedSecretsReader.CountSecretsSql("f.role_id")},
                       pending.n, COALESCE(pending.lag_ms, 0), d.last_error, d.needs_reconcile,
                       f.subscription_event, f.subscription_event_at, f.slot_name, d.last_push_at, d.last_error_since,
                       CASE WHEN d.breaker_until IS NULL THEN NULL
                            WHEN d.breaker_until > clock_timestamp()
                                THEN 'paused, retrying in ' || ceil(extract(epoch FROM d.breaker_until - clock_timestamp()))::int || ' s'
                            ELSE 'paused, retrying now' END,
                       (SELECT g.id FROM partial_replica.gateways g WHERE g.id = d.gateway AND g.lease_until > clock_timestamp())
                  FROM partial_replica.followers f
                  JOIN partial_replica.delivery d ON d.follower = f.name
                {Backlog.PendingSql}
                 ORDER BY f.name
                """))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var granted = reader.GetInt64(4);
                    // A follower owed a full reconcile has its whole granted set pending.
                    var pending = reader.GetInt64(5) + (reader.GetBoolean(8) ? granted : 0);
                    rows.Add(new LeaderRow(
                        new FollowerEndpoint(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)),
                        reader.GetString(11), reader.GetFieldValue<string[]>(3), granted, pending, reader.GetInt64(6),
                        reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(9) ? null : reader.GetString(9),
                        Time(reader, 10), Time(reader, 12), Time(reader, 13), reader.IsDBNull(14) ? null : reader.GetString(14),
                        reader.IsDBNull(15) ? null : reader.GetString(15)));
                }
            }

            recent = await FollowerErrors.ReadRecentAsync(connection, cancellationToken);
        }

        var retained = await ReadRetainedWalAsync(rows.Select(r => r.Slot).ToArray(), cancellationToken);
        var result = new List<FollowerStatusRow>(rows.Count);
        foreach (var row in rows)
        {
            LocalStatus? local = null;
            string? probeError = null;
            try
            {
                local = await probe(row.Endpoint, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                probeError = ErrorCause.Describe(e, row.Endpoint.AgentUrl);
            }
            catch (PartialReplicaException e)
            {
                probeError = $"agent not asked: {e.Message}";
            }

            result.Add(new FollowerStatusRow(row.Endpoint.Name, row.Sets, row.Granted, local?.Delivered, row.Pending, row.LagMs,
                local?.Subscription ?? "unknown", row.Error ?? probeError ?? Refused(local?.LastRefusal), row.Event, row.EventAt,
                row.LastPushAt, retained.TryGetValue(row.Slot, out var bytes) ? bytes : null, row.Error is null ? null : row.ErrorSince,
                row.Breaker, recent.TryGetValue(row.Endpoint.Name, out var errors) ? errors : [], row.ServedBy));
        }

        return result;
    }

    /// <summary>
    /// Bytes of WAL each slot holds back on the relay's server (what it would keep if its follower never returned).
    /// Status still answers when the relay cannot be read: the slots' rows are then missing.
    /// </summary>
    private async Task<Dictionary<string, long>> ReadRetainedWalAsync(string[] slots, CancellationToken cancellationToken)
    {
        var retained = new Dictionary<string, long>(StringComparer.Ordinal);
        if (relay is null || slots.Length == 0)
        {
            return retained;
        }

        try
        {
            var source = await relay(cancellationToken);
            if (source is null)
            {
                return retained;
            }

            await using var connection = await source.OpenConnectionAsync(cancellationToken);
            await using var command = ConnectionExtensions.Command(connection, """
                SELECT slot_name::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
                  FROM pg_replication_slots
                 WHERE slot_name = ANY($1) AND database = current_database() AND restart_lsn IS NOT NULL
                """, (object)slots);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                retained[reader.GetString(0)] = reader.GetInt64(1);
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or PartialReplicaException)
        {
            // The relay is unreachable or refuses these credentials: retained WAL shows as unknown.
            retained.Clear();
        }

        return retained;
    }

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static string? Refused(string? refusal) => refusal is null ? null : "batch refused by agent: " + refusal;
}
