using Jose;

namespace PartialReplica.Authn;

/// <summary>
/// Issues the gateway's short-lived ES256 tokens with jose-jwt: header <c>alg</c>, <c>kid</c>, <c>typ</c> and
/// nothing else; claims <c>iss</c>, <c>aud</c>, <c>sub</c> (a Conjur role id), <c>iat</c>, <c>nbf</c>, <c>exp</c>,
/// <c>jti</c>. Tokens for the gateway's own API carry the gateway's audience; push tokens carry the receiving
/// follower's role id as audience.
/// </summary>
public sealed class TokenIssuer(SigningKeyRing keys, string issuer, TimeProvider timeProvider)
{
    /// <summary>The <c>iss</c> this issuer writes.</summary>
    public string Issuer => issuer;

    /// <summary>A token for <paramref name="subject"/> addressed to <paramref name="audience"/>, valid for <paramref name="lifetime"/> (at most 8 minutes).</summary>
    public Task<string> CreateTokenAsync(string subject, string audience, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > TokenLifetimes.Max)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, $"A token lives more than zero and at most {TokenLifetimes.Max.TotalMinutes:0} minutes.");
        }

        var now = timeProvider.GetUtcNow();
        return CreateTokenAsync(subject, audience, now, now + lifetime, cancellationToken);
    }

    /// <summary>Any validity window; tests use it to make expired tokens.</summary>
    internal async Task<string> CreateTokenAsync(
        string subject, string audience, DateTimeOffset issuedAt, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentException.ThrowIfNullOrEmpty(audience);
        var key = await keys.GetSigningKeyAsync(cancellationToken);
        return Sign(key, Claims(issuer, audience, subject, issuedAt, issuedAt, expires));
    }

    /// <summary>The claims of a gateway token, times in seconds since the epoch.</summary>
    internal static Dictionary<string, object> Claims(
        string issuer, string audience, string subject, DateTimeOffset issuedAt, DateTimeOffset notBefore, DateTimeOffset expires) => new()
    {
        ["iss"] = issuer,
        ["aud"] = audience,
        ["sub"] = subject,
        ["jti"] = Guid.NewGuid().ToString("N"),
        ["iat"] = issuedAt.ToUnixTimeSeconds(),
        ["nbf"] = notBefore.ToUnixTimeSeconds(),
        ["exp"] = expires.ToUnixTimeSeconds(),
    };

    /// <summary>An ES256 JWS of <paramref name="claims"/> whose header names <paramref name="key"/>'s id.</summary>
    internal static string Sign(SigningKey key, IReadOnlyDictionary<string, object> claims) =>
        JWT.Encode(claims, key.ECDsa, JwsAlgorithm.ES256, new Dictionary<string, object>
        {
            ["kid"] = key.KeyId,
            ["typ"] = "JWT",
        });
}
