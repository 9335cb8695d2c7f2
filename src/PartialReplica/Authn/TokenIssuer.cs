using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace PartialReplica.Authn;

/// <summary>
/// Issues the gateway's short-lived ES256 tokens: header <c>kid</c>; claims <c>iss</c>, <c>aud</c>,
/// <c>sub</c> (a Conjur role id), <c>iat</c>, <c>nbf</c>, <c>exp</c>, <c>jti</c>. Tokens for the gateway's own
/// API carry the gateway's audience; push tokens carry the receiving follower's role id as audience.
/// </summary>
public sealed class TokenIssuer(SigningKeyRing keys, string issuer, TimeProvider timeProvider)
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

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
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([
                new Claim(JwtRegisteredClaimNames.Sub, subject),
                new Claim(JwtRegisteredClaimNames.Jti, Guid.NewGuid().ToString("N")),
            ]),
            IssuedAt = issuedAt.UtcDateTime,
            NotBefore = issuedAt.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        });
    }
}
