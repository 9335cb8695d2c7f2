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

    [LoggerMessage(1101, LogLevel.Information, "Publication partial_replica_public now holds {TableCount} tables (added {Added}, removed {Removed})")]
    public static partial void PublicationSynced(ILogger logger, int tableCount, int added, int removed);

    [LoggerMessage(1102, LogLevel.Warning, "Role partial_replica_subscriber existed without a password recorded in this leader database; a new password was set, so subscriptions made with the old one must be re-created")]
    public static partial void SubscriberPasswordReset(ILogger logger);

    [LoggerMessage(1201, LogLevel.Information, "Follower {Follower} registered with slot {Slot}")]
    public static partial void FollowerRegistered(ILogger logger, string follower, string slot);

    [LoggerMessage(1202, LogLevel.Information, "Follower {Follower} subscribed to partial_replica_public through slot {Slot}")]
    public static partial void FollowerSubscribed(ILogger logger, string follower, string slot);

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
