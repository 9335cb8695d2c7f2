using Microsoft.Extensions.Logging;

namespace PartialReplica;

/// <summary>
/// Every log line the core writes, with stable event ids. Arguments are ids, counts and timings;
/// never a secret value or an API key.
/// </summary>
internal static partial class LogMessages
{
    [LoggerMessage(1001, LogLevel.Information, "Applied migration {Migration} to database {Database}")]
    public static partial void MigrationApplied(ILogger logger, string database, string migration);

    [LoggerMessage(1101, LogLevel.Information, "Publication partial_replica_public in {Database} now holds {TableCount} tables (added {Added}, removed {Removed})")]
    public static partial void PublicationSynced(ILogger logger, string database, int tableCount, int added, int removed);

    [LoggerMessage(1102, LogLevel.Warning, "The shared login partial_replica_subscriber of earlier versions could not be dropped; drop it by hand: it can read the leader's whole write stream")]
    public static partial void OldSubscriberNotDropped(ILogger logger, Exception exception);

    [LoggerMessage(1103, LogLevel.Information, "Relay {Relay} subscribes to the leader as {Login} through slot {Slot}")]
    public static partial void RelaySubscribed(ILogger logger, string relay, string login, string slot);

    [LoggerMessage(1104, LogLevel.Warning, "The relay's server lets follower logins go further than the relay: {Advice}")]
    public static partial void RelayHbaOpen(ILogger logger, string advice);

    [LoggerMessage(1105, LogLevel.Information, "Follower login {Login} on the relay: {Action}")]
    public static partial void FollowerLoginChanged(ILogger logger, string login, string action);

    [LoggerMessage(1106, LogLevel.Warning, "Follower {Follower}: replication slot {Slot} was missing on the relay; recreated it")]
    public static partial void SlotRecreated(ILogger logger, string follower, string slot);

    [LoggerMessage(1107, LogLevel.Warning, "The relay {Relay} (slot {Slot}) is broken, {Reason}: rebuilding it from a new slot's snapshot")]
    public static partial void RelayRebuilding(ILogger logger, string relay, string slot, string reason);

    [LoggerMessage(1108, LogLevel.Information, "The relay {Relay} streams again through a new slot {Slot}; {Changed} relay rows changed to match the leader")]
    public static partial void RelayRebuilt(ILogger logger, string relay, string slot, long changed);

    [LoggerMessage(1109, LogLevel.Warning, "Follower {Follower}: replication slot {Slot} on the relay was lost (the server removed WAL it had not read); recreated it")]
    public static partial void SlotLostRecreated(ILogger logger, string follower, string slot);

    [LoggerMessage(1201, LogLevel.Information, "Follower {Follower} registered with slot {Slot}")]
    public static partial void FollowerRegistered(ILogger logger, string follower, string slot);

    [LoggerMessage(1202, LogLevel.Information, "Follower {Follower} subscribed to partial_replica_public through slot {Slot}")]
    public static partial void FollowerSubscribed(ILogger logger, string follower, string slot);

    [LoggerMessage(1209, LogLevel.Warning, "Follower database {Database} held rows in published tables ({Tables}); emptied before the subscription copies the leader's")]
    public static partial void FollowerTablesEmptied(ILogger logger, string database, string tables);

    [LoggerMessage(1301, LogLevel.Information, "Gateway {Instance} now serves follower {Follower}")]
    public static partial void FollowerServed(ILogger logger, string follower, string instance);

    [LoggerMessage(1302, LogLevel.Warning, "Push to follower {Follower} failed; retried from its durable cursor")]
    public static partial void PushFailed(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1303, LogLevel.Debug, "Pushed to {Follower}: {Variables} variables, {Upserts} upserts, {Deletes} deletes in {Milliseconds:0.0} ms")]
    public static partial void Pushed(ILogger logger, string follower, int variables, int upserts, int deletes, double milliseconds);

    [LoggerMessage(1304, LogLevel.Warning, "Listening for change notifications failed; reconnecting in {DelayMs} ms")]
    public static partial void ListenFailed(ILogger logger, int delayMs, Exception exception);

    [LoggerMessage(1305, LogLevel.Information, "Pruned {Count} outbox rows every follower is past")]
    public static partial void OutboxPruned(ILogger logger, int count);

    [LoggerMessage(1306, LogLevel.Information, "Readying pushes to follower {Follower} failed; the push retries")]
    public static partial void PushPreparationFailed(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1401, LogLevel.Information, "Policy {Mode} into {Branch}: version {Version}, dry run {DryRun}, {Records} records, {CreatedRoles} roles created, {Followers} followers' granted sets changed")]
    public static partial void PolicyLoaded(ILogger logger, string branch, string mode, int version, bool dryRun, int records, int createdRoles, int followers);

    [LoggerMessage(1600, LogLevel.Error, "Background loop {Loop} failed ({Failures} in a row); restarting it in {RetryMs} ms")]
    public static partial void LoopFailed(ILogger logger, string loop, int failures, int retryMs, Exception exception);

    [LoggerMessage(1601, LogLevel.Information, "Background loop {Loop} runs again after {Failures} failures")]
    public static partial void LoopRunningAgain(ILogger logger, string loop, int failures);

    [LoggerMessage(1602, LogLevel.Warning, "Heartbeat write on the leader failed; the next beat tries again")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(1603, LogLevel.Warning, "Pruning the outbox failed; the next round tries again")]
    public static partial void PruneFailed(ILogger logger, Exception exception);

    [LoggerMessage(1604, LogLevel.Warning, "Sampling the followers' backlog for metrics failed; the next sample tries again")]
    public static partial void BacklogSampleFailed(ILogger logger, Exception exception);

    [LoggerMessage(1605, LogLevel.Warning, "Reading the registered followers failed; the next refresh tries again")]
    public static partial void FollowersReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(1606, LogLevel.Warning, "Follower {Follower}: recording its last error on the leader failed")]
    public static partial void PushErrorNotRecorded(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1607, LogLevel.Warning, "The wake-up gate lost its leader session; reconnecting in {DelayMs} ms")]
    public static partial void WakeupGateFailed(ILogger logger, int delayMs, Exception exception);

    [LoggerMessage(1608, LogLevel.Warning, "Removing this gateway's row from partial_replica.listeners at stop failed; it stops counting after 5 s unseen")]
    public static partial void ListenerRowNotRemoved(ILogger logger, Exception exception);

    [LoggerMessage(1609, LogLevel.Warning, "Push to follower {Follower} refused by its agent; retried in {DelayMs} ms")]
    public static partial void PushRefused(ILogger logger, string follower, int delayMs, Exception exception);

    [LoggerMessage(1700, LogLevel.Information, "Gateway {Gateway} is live; live gateways: {Live}")]
    public static partial void LiveGateways(ILogger logger, string gateway, string live);

    [LoggerMessage(1701, LogLevel.Warning, "Gateway {Gateway} could not renew its lease on the leader; it keeps its followers until the lease runs out, and retries")]
    public static partial void LeaseRenewFailed(ILogger logger, string gateway, Exception exception);

    [LoggerMessage(1702, LogLevel.Warning, "Gateway {Gateway}'s lease ran out without a renewal: it stops serving its {Followers} followers until the leader answers again")]
    public static partial void LeaseExpired(ILogger logger, string gateway, int followers);

    [LoggerMessage(1703, LogLevel.Information, "Follower {Follower} moves to gateway {Gateway}; this gateway lets it go after its push in flight")]
    public static partial void FollowerMoved(ILogger logger, string follower, string gateway);

    [LoggerMessage(1704, LogLevel.Warning, "Removing gateway {Gateway}'s row from partial_replica.gateways at stop failed; the others take its followers when its lease runs out")]
    public static partial void GatewayRowNotRemoved(ILogger logger, string gateway, Exception exception);

    [LoggerMessage(1705, LogLevel.Debug, "Follower {Follower}: clearing this gateway's claim on it failed (the session is gone, and its lock with it)")]
    public static partial void FollowerClaimNotCleared(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1720, LogLevel.Warning, "Listening for the follower's replayed heartbeats failed; pushes wait by polling until it reconnects in {DelayMs} ms")]
    public static partial void ReplayWatchFailed(ILogger logger, int delayMs, Exception exception);

    [LoggerMessage(1740, LogLevel.Warning, "Push to follower {Follower} failed: its agent did not answer; retried from its durable cursor")]
    public static partial void PushAgentUnreachable(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1741, LogLevel.Warning, "Push to follower {Follower} failed: its agent answered {StatusCode}; retried from its durable cursor")]
    public static partial void PushAgentError(ILogger logger, string follower, int statusCode, Exception exception);

    [LoggerMessage(1742, LogLevel.Warning, "Push to follower {Follower} failed: the leader database failed; retried from its durable cursor")]
    public static partial void PushLeaderFailed(ILogger logger, string follower, Exception exception);

    [LoggerMessage(1743, LogLevel.Warning, "Push to follower {Follower} held back: its circuit breaker is open after repeated failures; tried again when it half-opens")]
    public static partial void PushBreakerOpen(ILogger logger, string follower, Exception exception);
}
