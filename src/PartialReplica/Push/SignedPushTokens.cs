using System.Collections.Concurrent;
using PartialReplica.Authn;

namespace PartialReplica.Push;

/// <summary>
/// The gateway's push tokens: signed with its own key, subject <see cref="Subject"/>, audience the
/// follower's role id, so an agent accepts only pushes addressed to it. Cached until shortly before expiry.
/// </summary>
public sealed class SignedPushTokens(TokenIssuer issuer, TimeProvider timeProvider) : IPushTokenSource
{
    /// <summary>The subject every push token carries; agents accept no other.</summary>
    public const string Subject = "partial-replica/gateway";

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
