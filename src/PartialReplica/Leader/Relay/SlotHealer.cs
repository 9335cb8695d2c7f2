using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Leader.Relay;

/// <summary>What a follower's agent is asked to do to its subscription.</summary>
/// <param name="Follower">The follower's name.</param>
/// <param name="RoleId">Its host role (the audience of the request's token).</param>
/// <param name="Slot">Its subscription and slot name.</param>
/// <param name="AgentUrl">Where its agent listens.</param>
/// <param name="Recopy">
/// True when its slot was recreated: what the old slot still held is lost, so the agent re-subscribes and copies the
/// published tables anew. False: the subscription is only re-enabled and refreshed.
/// </param>
public sealed record SubscriptionRepairRequest(string Follower, string RoleId, string Slot, string? AgentUrl, bool Recopy);

/// <summary>
/// S6: any replication login on the relay can drop any slot there (slots have no owner), and a server whose
/// <c>max_slot_wal_keep_size</c> is set invalidates a slot that falls too far behind (<c>wal_status = 'lost'</c>). The
/// gateway runs this check periodically: a relay whose own slot on the leader is missing or lost is rebuilt
/// (<see cref="RelayRebuild"/>); a follower's missing or lost slot is recreated and its agent asked to copy the tables
/// anew; a slot left unused for <see cref="InactiveAfter"/> gets its subscription re-enabled; slots and logins of
/// followers that are no longer registered are dropped. Each action is recorded on the follower's row for
/// <c>status</c> and the dashboard.
/// </summary>
public sealed class SlotHealer(ILogger logger, TimeProvider timeProvider)
{
    // One healer at a time across gateways: a session-level advisory lock on the leader.
    private const long HealLockKey = 0x5052_4845_414c;

    private readonly Dictionary<string, DateTimeOffset> _inactiveSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SubscriptionRepairRequest> _owedRecopies = new(StringComparer.Ordinal);

    /// <summary>
    /// The relay database's logical slots: name, in use, lost. A table sync slot is in use while its walsender copies
    /// the table too: PostgreSQL holds the slot only while it is made and while it streams, not during the COPY between
    /// (minutes for a million resources), and names that walsender's session after the slot.
    /// </summary>
    private const string SlotsSql = """
        SELECT s.slot_name::text,
               s.active OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = s.slot_name::text),
               s.wal_status IS NOT DISTINCT FROM 'lost'
          FROM pg_replication_slots s
         WHERE s.database = current_database() AND s.slot_type = 'logical'
        """;

    /// <summary>How long a registered follower's slot may stay unused before its agent is asked to re-enable it.</summary>
    public TimeSpan InactiveAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>One check; returns what the followers' agents must do.</summary>
    public async Task<IReadOnlyList<SubscriptionRepairRequest>> CheckAsync(
        NpgsqlConnection leader, NpgsqlConnection relay, CancellationToken cancellationToken)
    {
        // The relay first: while its own slot is broken, no follower sees any leader change.
        if (await RelayRebuild.BrokenAsync(leader, relay, cancellationToken) is { } broken)
        {
            LogMessages.RelayRebuilding(logger, relay.Database, RelayNames.UpstreamSubscription(relay.Database), broken);
            var changed = await new RelayRebuild(leader.ConnectionString, logger).RunAsync(leader, relay, cancellationToken);
            await leader.ExecuteAsync(
                "UPDATE partial_replica.followers SET subscription_event = $1, subscription_event_at = clock_timestamp()", cancellationToken,
                $"relay rebuilt ({broken}): {changed} relay rows brought up to date; it streams from a new slot");
        }

        // Slots and logins are read before the registrations: follower init registers a follower before it makes
        // its slot and login, so anything read here that no registration read after it names is an orphan.
        var slots = new Dictionary<string, bool>(StringComparer.Ordinal);
        var lost = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = ConnectionExtensions.Command(relay, SlotsSql))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                slots[reader.GetString(0)] = reader.GetBoolean(1);
                if (reader.GetBoolean(2))
                {
                    lost.Add(reader.GetString(0));
                }
            }
        }

        var logins = new List<string>();
        await using (var command = ConnectionExtensions.Command(relay, """
            SELECT r.rolname::text FROM pg_roles r
              JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
             WHERE g.rolname = $1 AND r.rolcanlogin
            """, RelayNames.DatabaseGroup(relay.Database)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                logins.Add(reader.GetString(0));
            }
        }

        var followers = new List<(string Name, string RoleId, string Slot, string? Login, string? AgentUrl)>();
        await using (var command = ConnectionExtensions.Command(leader,
            "SELECT name, role_id, slot_name, login, agent_url FROM partial_replica.followers ORDER BY name"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                followers.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        var requests = new List<SubscriptionRepairRequest>();
        var now = timeProvider.GetUtcNow();
        foreach (var follower in followers)
        {
            if (follower.Login is null)
            {
                continue; // registered, but follower init has not made its subscription yet
            }

            // A lost slot can never stream again: it is dropped (its subscription's walsender, if any, ended) and then
            // made anew as a missing one is; a recopy still owed is replaced by the one that asks for.
            var wasLost = lost.Contains(follower.Slot);
            if (wasLost)
            {
                await FollowerLogins.DropAsync(relay, follower.Slot, null, logger, cancellationToken);
                slots.Remove(follower.Slot);
                _owedRecopies.Remove(follower.Name);
            }

            if (_owedRecopies.Remove(follower.Name, out var owed) && slots.ContainsKey(follower.Slot))
            {
                requests.Add(owed with { AgentUrl = follower.AgentUrl });
            }
            else if (!slots.TryGetValue(follower.Slot, out var active))
            {
                await FollowerLogins.EnsureSlotAsync(relay, follower.Slot, cancellationToken);
                if (wasLost)
                {
                    LogMessages.SlotLostRecreated(logger, follower.Name, follower.Slot);
                }
                else
                {
                    LogMessages.SlotRecreated(logger, follower.Name, follower.Slot);
                }

                await RecordAsync(leader, follower.Name, wasLost
                    ? "slot was lost on the relay (the server removed WAL it had not read): recreated; the agent copies the tables anew"
                    : "slot was missing on the relay: recreated; the agent copies the tables anew", cancellationToken);
                requests.Add(new SubscriptionRepairRequest(follower.Name, follower.RoleId, follower.Slot, follower.AgentUrl, Recopy: true));
                _inactiveSince.Remove(follower.Name);
            }
            else if (active)
            {
                _inactiveSince.Remove(follower.Name);
            }
            else if (!_inactiveSince.TryGetValue(follower.Name, out var since))
            {
                _inactiveSince[follower.Name] = now;
            }
            else if (now - since >= InactiveAfter)
            {
                await RecordAsync(leader, follower.Name,
                    $"subscription not streaming for {(now - since).TotalSeconds:0} s: the agent re-enables it", cancellationToken);
                requests.Add(new SubscriptionRepairRequest(follower.Name, follower.RoleId, follower.Slot, follower.AgentUrl, Recopy: false));
                _inactiveSince[follower.Name] = now;
            }
        }

        // Only follower slots (named pr_...) of followers no longer registered are orphans. A subscription's table
        // copy runs through temporary slots of its own (pg_<sub>_sync_<table>_<system>), in use while it copies (see
        // SlotsSql); one left unused for InactiveAfter was abandoned (a subscription dropped mid-copy) and holds WAL
        // for nothing. (Dropping one whose copy was still running left that table's sync failing for ever.)
        var registeredSlots = followers.Select(f => f.Slot).ToHashSet(StringComparer.Ordinal);
        var registeredLogins = followers.Where(f => f.Login is not null).Select(f => f.Login!).ToHashSet(StringComparer.Ordinal);
        foreach (var orphan in slots.Keys.Where(s => s.StartsWith("pr_", StringComparison.Ordinal) && !registeredSlots.Contains(s)))
        {
            await FollowerLogins.DropAsync(relay, orphan, null, logger, cancellationToken);
        }

        foreach (var (slot, active) in slots.Where(s => s.Key.StartsWith("pg_", StringComparison.Ordinal) && s.Key.Contains("_sync_", StringComparison.Ordinal)))
        {
            var key = "sync:" + slot;
            if (active)
            {
                _inactiveSince.Remove(key);
            }
            else if (!_inactiveSince.TryGetValue(key, out var since))
            {
                _inactiveSince[key] = now;
            }
            else if (now - since >= InactiveAfter)
            {
                await FollowerLogins.DropAsync(relay, slot, null, logger, cancellationToken);
                _inactiveSince.Remove(key);
            }
        }

        foreach (var orphan in logins.Where(l => !registeredLogins.Contains(l)))
        {
            await FollowerLogins.DropAsync(relay, "", orphan, logger, cancellationToken);
        }

        return requests;
    }

    /// <summary>Takes the healer's lock on this leader session; false when another gateway holds it.</summary>
    public static async Task<bool> TryLockAsync(NpgsqlConnection leader, CancellationToken cancellationToken) =>
        await leader.ScalarAsync<bool>("SELECT pg_try_advisory_lock($1)", cancellationToken, HealLockKey);

    /// <summary>Releases the lock <see cref="TryLockAsync"/> took.</summary>
    public static async Task UnlockAsync(NpgsqlConnection leader, CancellationToken cancellationToken) =>
        await leader.ExecuteAsync("SELECT pg_advisory_unlock($1)", cancellationToken, HealLockKey);

    /// <summary>A recopy its agent did not do (unreachable, say): asked for again by the next check.</summary>
    public void OweRecopy(SubscriptionRepairRequest request) => _owedRecopies[request.Follower] = request;

    /// <summary>Records what was done for a follower's subscription (shown by status and the dashboard).</summary>
    public static async Task RecordAsync(NpgsqlConnection leader, string follower, string what, CancellationToken cancellationToken) =>
        await leader.ExecuteAsync(
            "UPDATE partial_replica.followers SET subscription_event = $2, subscription_event_at = clock_timestamp() WHERE name = $1",
            cancellationToken, follower, what);
}
