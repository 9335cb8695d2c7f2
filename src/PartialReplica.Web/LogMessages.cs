using Microsoft.Extensions.Logging;

namespace PartialReplica.Web;

/// <summary>
/// Every log line the hosts write (gateway, agent and what they share), with stable event ids: one id per kind of
/// event, exceptions passed as exceptions. Arguments are ids, names, counts and reasons; never an API key, token,
/// key material or secret value. The core's lines are in <c>PartialReplica.LogMessages</c> (1000–1999).
/// </summary>
internal static partial class LogMessages
{
    [LoggerMessage(2001, LogLevel.Information, "Role {RoleId} authenticated with its API key")]
    public static partial void Authenticated(ILogger logger, string roleId);

    [LoggerMessage(2002, LogLevel.Debug, "Authentication refused for login {Login} of account {Account}")]
    public static partial void AuthenticationRefused(ILogger logger, string account, string login);

    [LoggerMessage(2003, LogLevel.Information, "Token refused: {Reason}")]
    public static partial void TokenRefused(ILogger logger, string reason);

    [LoggerMessage(2004, LogLevel.Information, "API key of {RoleId} rotated by {Caller}")]
    public static partial void ApiKeyRotated(ILogger logger, string roleId, string caller);

    [LoggerMessage(2101, LogLevel.Debug, "Served {Count} granted secrets to {RoleId}")]
    public static partial void EdgePageServed(ILogger logger, int count, string roleId);

    [LoggerMessage(2201, LogLevel.Warning, "Request body over {Limit} bytes refused on {Path}")]
    public static partial void BodyTooLarge(ILogger logger, long limit, string path);

    [LoggerMessage(2301, LogLevel.Information, "Gateway warm-up incomplete; the first push does that work itself")]
    public static partial void WarmupIncomplete(ILogger logger, Exception exception);

    [LoggerMessage(2401, LogLevel.Error, "Checking the followers' slots on the relay failed; the next round tries again")]
    public static partial void SubscriptionCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(2402, LogLevel.Warning, "Follower {Follower}: subscription repaired by its agent ({Done})")]
    public static partial void SubscriptionRepaired(ILogger logger, string follower, string done);

    [LoggerMessage(2403, LogLevel.Warning, "Follower {Follower}: its agent could not repair the subscription; retried next round")]
    public static partial void SubscriptionRepairFailed(ILogger logger, string follower, Exception exception);

    [LoggerMessage(2302, LogLevel.Warning, "Could not check the gateway key against the leader's signing keys at start; the first use checks it")]
    public static partial void SigningKeyCheckSkipped(ILogger logger, Exception exception);

    [LoggerMessage(2600, LogLevel.Information, "Gateway warm-up of the push client incomplete; the first push opens its connection itself")]
    public static partial void PushClientWarmupIncomplete(ILogger logger, Exception exception);

    [LoggerMessage(2601, LogLevel.Warning, "Agent warm-up step failed; the first push does that work itself")]
    public static partial void AgentWarmupIncomplete(ILogger logger, Exception exception);

    [LoggerMessage(2602, LogLevel.Warning, "The parent process {ParentPid} is gone; stopping")]
    public static partial void ParentGone(ILogger logger, int parentPid);

    [LoggerMessage(2540, LogLevel.Warning, "{Failures} failed authentications in the last {WindowSeconds} s ({Refused} more refused as over the limit) for {Logins} logins from {Addresses} client addresses; most for login {TopLogin} ({TopLoginFailures}), most from {TopAddress} ({TopAddressFailures})")]
    public static partial void AuthenticationFailuresSummary(
        ILogger logger, long failures, long windowSeconds, long refused, int logins, int addresses, string topLogin, int topLoginFailures, string topAddress, int topAddressFailures);

    [LoggerMessage(2541, LogLevel.Warning, "Failed authentications for login {Login} are over the limit ({Limit} per {WindowSeconds} s): wrong keys get 429 until the window ends")]
    public static partial void LoginFailuresLimited(ILogger logger, string login, int limit, long windowSeconds);

    [LoggerMessage(2542, LogLevel.Warning, "Failed authentications from client address {Address} are over the limit ({Limit} per {WindowSeconds} s): its attempts get 429 until the window ends")]
    public static partial void AddressFailuresLimited(ILogger logger, string address, int limit, long windowSeconds);

    [LoggerMessage(2543, LogLevel.Debug, "Authentication refused before any query: the login is not text PostgreSQL can hold")]
    public static partial void UnstorableLoginRefused(ILogger logger);

    [LoggerMessage(2560, LogLevel.Warning, "Serving plain HTTP on {Address}, which other machines can reach: tokens and pushed ciphertext cross the network unencrypted. Give a certificate (Kestrel:Certificates:Default:Path and KeyPath, or PARTIALREPLICA_TLS_CERT and PARTIALREPLICA_TLS_KEY) and listen on https://, or bind a loopback address")]
    public static partial void PlainHttpBeyondLoopback(ILogger logger, string address);

    [LoggerMessage(2561, LogLevel.Error, "A request to {Path} could not be served: this host refused its TLS peer's certificate")]
    public static partial void PeerCertificateRefused(ILogger logger, string path, Exception exception);

    [LoggerMessage(2730, LogLevel.Warning, "The dashboard's history could not read the leader's backlog; lag is missing from the charts until it answers")]
    public static partial void HistorySamplingFailed(ILogger logger, Exception exception);

    [LoggerMessage(2731, LogLevel.Information, "The dashboard's history reads the leader's backlog again")]
    public static partial void HistorySamplingRecovered(ILogger logger);

    [LoggerMessage(2710, LogLevel.Warning, "Batch {BatchId} not applied: the follower database failed; the gateway is told the cause (503)")]
    public static partial void FollowerDatabaseUnavailable(ILogger logger, string batchId, Exception exception);

    [LoggerMessage(2820, LogLevel.Warning, "Redis does not answer ({Failure}): authentication limits count per gateway and token revocations are those this gateway knows until it answers; pushes go on")]
    public static partial void RedisUnavailable(ILogger logger, string failure, Exception exception);

    [LoggerMessage(2821, LogLevel.Information, "Redis answers again: authentication limits and token revocations are shared across the gateways again")]
    public static partial void RedisBack(ILogger logger);

    [LoggerMessage(2822, LogLevel.Information, "Shared state through Redis: authentication limits, token revocations and follower wake-ups are shared across the gateways")]
    public static partial void RedisConnected(ILogger logger);

    [LoggerMessage(2823, LogLevel.Warning, "Tokens of {Role} are refused by this gateway only: Redis does not answer, and the other gateways learn of it when it does")]
    public static partial void RevocationKeptLocally(ILogger logger, string role);

    [LoggerMessage(2825, LogLevel.Debug, "Follower change wake-ups from other gateways are subscribed")]
    public static partial void FollowerWakeupsSubscribed(ILogger logger);

    [LoggerMessage(2826, LogLevel.Information, "Follower {Follower} removed by {Caller}: its slot and login on the relay are dropped, its registration deleted, its tokens refused")]
    public static partial void FollowerRemoved(ILogger logger, string follower, string caller);

    [LoggerMessage(2860, LogLevel.Debug, "Served a delta of {Count} changed variables ({Tombstones} deleted) to {RoleId}")]
    public static partial void EdgeDeltaServed(ILogger logger, int count, int tombstones, string roleId);

    [LoggerMessage(2861, LogLevel.Information, "A delta pull of {RoleId} named a position the leader can no longer answer (pruned, or before its registration); told to pull the full list (410)")]
    public static partial void EdgeDeltaGone(ILogger logger, string roleId);

    [LoggerMessage(2862, LogLevel.Information, "A delta pull of {RoleId}, which is not a registered follower, told to pull the full list (410)")]
    public static partial void EdgeDeltaNotAFollower(ILogger logger, string roleId);

    [LoggerMessage(2880, LogLevel.Information, "Tokens of {Role} issued until the leader recorded a revocation (key rotated, credentials deleted or follower removed) are refused")]
    public static partial void LeaderRevocationApplied(ILogger logger, string role);

    [LoggerMessage(2881, LogLevel.Warning, "The leader's token revocations cannot be read; tried again every {DelayMs} ms (revocations made through this gateway still apply)")]
    public static partial void LeaderRevocationsUnread(ILogger logger, int delayMs, Exception exception);

    [LoggerMessage(2882, LogLevel.Information, "The leader's token revocations are read again")]
    public static partial void LeaderRevocationsReadAgain(ILogger logger);

    [LoggerMessage(2883, LogLevel.Warning, "Listening for the leader's token revocations failed; reconnecting in {DelayMs} ms (the reader polls meanwhile)")]
    public static partial void LeaderRevocationsListenFailed(ILogger logger, int delayMs, Exception exception);

    [LoggerMessage(3001, LogLevel.Information, "Applied batch {BatchId} from {Gateway}: {Variables} variables, {Skipped} skipped, {Upserts} upserts, {Deletes} deletes")]
    public static partial void BatchApplied(ILogger logger, string batchId, string gateway, int variables, int skipped, int upserts, int deletes);

    [LoggerMessage(3002, LogLevel.Warning, "Refused batch {BatchId} from {Gateway} ({Reason}, {Variables} variables): {Detail}")]
    public static partial void BatchRefused(ILogger logger, string batchId, string gateway, string reason, int variables, string detail);

    [LoggerMessage(3101, LogLevel.Warning, "Subscription {Subscription} repaired at the gateway's request: {Done}")]
    public static partial void AgentSubscriptionRepaired(ILogger logger, string subscription, string done);
}
