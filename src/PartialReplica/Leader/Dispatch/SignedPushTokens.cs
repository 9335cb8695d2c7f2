using System.Collections.Concurrent;
using PartialReplica.Authn;

namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// The gateway's push tokens: signed with its own key, subject <see cref="Subject"/>, audience the
/// follower's role id, so an agent accepts only pushes addressed to it. Cached until shortly before expiry.
/// </summary>
public sealed class SignedPushTokens(TokenIssuer issuer, TimeProvider timeProvider) : IPushTokenSource
{
    /// <summary>The subject every push token carries; agents accept no other.</summary>
    public const string Subject = "partial-replica/gateway";

    /// <summary>
    /// Push tokens signed with the leader's current key, for tools that run beside the gateway (listen, status);
    /// they need the gateway key, as a gateway does.
    /// </summary>
    public static SignedPushTokens ForLeader(Npgsql.NpgsqlDataSource leader, GatewayKey gatewayKey, string issuer = "partial-replica-gateway") =>
        new(new TokenIssuer(new SigningKeyRing(leader, gatewayKey, TimeProvider.System), issuer, TimeProvider.System), TimeProvider.System);

    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _cache = new(StringComparer.Ordinal);

    public async Task<string> GetTokenAsync(string audience, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        if (_cache.TryGetValue(audience, out var cached) && cached.Expires - RenewBefore > now)
        {
            return cached.Token;
        }

        var token = await issuer.CreateTokenAsync(Subject, audience, Lifetime, cancellationToken);
        _cache[audience] = (token, now + Lifetime);
        return token;
    }
}
