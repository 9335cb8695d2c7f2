using Microsoft.Extensions.Logging;

namespace PartialReplica.Web.Gateway;

/// <summary>Every log line the gateway writes, with stable event ids. Never an API key, token or secret value.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(2001, LogLevel.Information, "Role {RoleId} authenticated with its API key")]
    public static partial void Authenticated(ILogger logger, string roleId);

    [LoggerMessage(2002, LogLevel.Warning, "Authentication refused for login {Login} of account {Account}")]
    public static partial void AuthenticationRefused(ILogger logger, string account, string login);

    [LoggerMessage(2003, LogLevel.Information, "Token refused: {Reason}")]
    public static partial void TokenRefused(ILogger logger, string reason);

    [LoggerMessage(2004, LogLevel.Information, "API key of {RoleId} rotated by {Caller}")]
    public static partial void ApiKeyRotated(ILogger logger, string roleId, string caller);

    [LoggerMessage(2101, LogLevel.Debug, "Served {Count} granted secrets to {RoleId}")]
    public static partial void EdgePageServed(ILogger logger, int count, string roleId);

    [LoggerMessage(2201, LogLevel.Warning, "Request body over {Limit} bytes refused on {Path}")]
    public static partial void BodyTooLarge(ILogger logger, long limit, string path);

    [LoggerMessage(2301, LogLevel.Information, "Gateway warm-up incomplete ({ErrorType}: {Error}); the first push does that work itself")]
    public static partial void WarmupIncomplete(ILogger logger, string errorType, string error);

    [LoggerMessage(2401, LogLevel.Error, "Checking the followers' slots on the relay failed; the next round tries again")]
    public static partial void SubscriptionCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(2402, LogLevel.Warning, "Follower {Follower}: subscription repaired by its agent ({Done})")]
    public static partial void SubscriptionRepaired(ILogger logger, string follower, string done);

    [LoggerMessage(2403, LogLevel.Warning, "Follower {Follower}: its agent could not repair the subscription; retried next round")]
    public static partial void SubscriptionRepairFailed(ILogger logger, string follower, Exception exception);

    [LoggerMessage(2302, LogLevel.Warning, "Could not check the gateway key against the leader's signing keys at start ({ErrorType}: {Error}); the first use checks it")]
    public static partial void SigningKeyCheckSkipped(ILogger logger, string errorType, string error);

    [LoggerMessage(2560, LogLevel.Warning, "Serving plain HTTP on {Address}, which other machines can reach: tokens and pushed ciphertext cross the network unencrypted. Give a certificate (Kestrel:Certificates:Default:Path and KeyPath, or PARTIALREPLICA_TLS_CERT and PARTIALREPLICA_TLS_KEY) and listen on https://, or bind a loopback address")]
    public static partial void PlainHttpBeyondLoopback(ILogger logger, string address);

    [LoggerMessage(2561, LogLevel.Error, "A request to {Path} could not be served: this host refused its TLS peer's certificate")]
    public static partial void PeerCertificateRefused(ILogger logger, string path, Exception exception);
}
