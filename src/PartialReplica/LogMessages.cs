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

    [LoggerMessage(1102, LogLevel.Warning, "The shared login partial_replica_subscriber of earlier versions could not be dropped ({Reason}); drop it by hand: it can read the leader's whole write stream")]
    public static partial void OldSubscriberNotDropped(ILogger logger, string reason);

    [LoggerMessage(1103, LogLevel.Information, "Relay {Relay} subscribes to the leader as {Login} through slot {Slot}")]
    public static partial void RelaySubscribed(ILogger logger, string relay, string login, string slot);

    [LoggerMessage(1104, LogLevel.Warning, "The relay's server lets follower logins go further than the relay: {Advice}")]
    public static partial void RelayHbaOpen(ILogger logger, string advice);

    [LoggerMessage(1105, LogLevel.Information, "Follower login {Login} on the relay: {Action}")]
    public static partial void FollowerLoginChanged(ILogger logger, string login, string action);

    [LoggerMessage(1106, LogLevel.Warning, "Follower {Follower}: replication slot {Slot} was missing on the relay; recreated it")]
    public static partial void SlotRecreated(ILogger logger, string follower, string slot);

    [LoggerMessage(1201, LogLevel.Information, "Follower {Follower} registered with slot {Slot}")]
    public static partial void FollowerRegistered(ILogger logger, string follower, string slot);

    [LoggerMessage(1202, LogLevel.Information, "Follower {Follower} subscribed to partial_replica_public through slot {Slot}")]
    public static partial void FollowerSubscribed(ILogger logger, string follower, string slot);

    [LoggerMessage(1209, LogLevel.Warning, "Follower database {Database} held rows in published tables ({Tables}); emptied before the subscription copies the leader's")]
    public static partial void FollowerTablesEmptied(ILogger logger, string database, string tables);

    [LoggerMessage(1301, LogLevel.Information, "Gateway {Instance} now serves follower {Follower}")]
    public static partial void FollowerServed(ILogger logger, string follower, string instance);

    [LoggerMessage(1302, LogLevel.Warning, "Push to follower {Follower} failed ({ErrorType}): {Error}")]
    public static partial void PushFailed(ILogger logger, string follower, string errorType, string error);

    [LoggerMessage(1303, LogLevel.Debug, "Pushed to {Follower}: {Variables} variables, {Upserts} upserts, {Deletes} deletes in {Milliseconds:0.0} ms")]
    public static partial void Pushed(ILogger logger, string follower, int variables, int upserts, int deletes, double milliseconds);

    [LoggerMessage(1304, LogLevel.Warning, "Listening for change notifications failed ({ErrorType}); reconnecting in {DelayMs} ms")]
    public static partial void ListenFailed(ILogger logger, string errorType, int delayMs);

    [LoggerMessage(1305, LogLevel.Information, "Pruned {Count} outbox rows every follower is past")]
    public static partial void OutboxPruned(ILogger logger, int count);

    [LoggerMessage(1306, LogLevel.Information, "Readying pushes to follower {Follower} failed ({ErrorType}): {Error}; the push retries")]
    public static partial void PushPreparationFailed(ILogger logger, string follower, string errorType, string error);

    [LoggerMessage(1401, LogLevel.Information, "Policy {Mode} into {Branch}: version {Version}, dry run {DryRun}, {Records} records, {CreatedRoles} roles created, {Followers} followers' granted sets changed")]
    public static partial void PolicyLoaded(ILogger logger, string branch, string mode, int version, bool dryRun, int records, int createdRoles, int followers);
}
