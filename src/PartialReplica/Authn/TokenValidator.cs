using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace PartialReplica.Authn;

/// <summary>
/// Validates gateway tokens anywhere: the gateway itself (keys from the leader) or a follower agent (keys
/// fetched from the gateway's JWKS with <see cref="HttpJwksSource"/>). Accepts only ES256 signatures from a
/// published key, the expected issuer and audience, and an unexpired <c>exp</c>; <c>alg: none</c> and
/// unsigned tokens are refused. A token signed by a retired key is accepted only if it was issued (<c>iat</c>)
/// by the key's retirement and expires within a token lifetime of it, so a retired key that leaks mints nothing.
/// </summary>
public sealed class TokenValidator(IJwksSource keys, string issuer, string audience, TimeProvider timeProvider)
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };

    /// <summary>The audience this validator accepts (a follower agent passes its own role id).</summary>
    public string Audience => audience;

    /// <summary>Validates <paramref name="token"/>; never throws for a bad token.</summary>
    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            return new TokenValidation(null, "no token");
        }

        var result = await ValidateWithAsync(token, await keys.GetKeysAsync(refresh: false, cancellationToken));
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // The issuer may have rotated since the keys were cached.
            result = await ValidateWithAsync(token, await keys.GetKeysAsync(refresh: true, cancellationToken));
        }

        if (!result.IsValid)
        {
            return new TokenValidation(null, result.Exception is SecurityTokenInvalidSigningKeyException
                ? "signed by a key retired before the token was issued"
                : result.Exception?.GetType().Name ?? "invalid token");
        }

        return result.Claims.TryGetValue(JwtRegisteredClaimNames.Sub, out var sub) && sub is string subject && subject.Length > 0
            ? new TokenValidation(subject, null)
            : new TokenValidation(null, "token has no subject");
    }

    /// <summary>
    /// Fetches the keys and runs a whole validation before the first request needs it (measured in <c>bench</c>
    /// P1: ~50 ms of an agent's first push): a token signed by a throwaway key under a published key id, in every
    /// other respect valid. It must be refused; if it were accepted this throws, for the validator would be broken.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var published = await keys.GetKeysAsync(refresh: false, cancellationToken);
        if (published.Count == 0 || published[0].Key.KeyId is not { Length: > 0 } keyId)
        {
            return;
        }

        using var throwaway = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var forged = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = "partial-replica/warm-up" },
            IssuedAt = now,
            NotBefore = now,
            Expires = now + TimeSpan.FromMinutes(1),
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(throwaway) { KeyId = keyId }, SecurityAlgorithms.EcdsaSha256),
        });
        if ((await ValidateWithAsync(forged, published)).IsValid)
        {
            throw new InvalidOperationException("A token signed by a key the issuer never published was accepted.");
        }
    }

    private Task<TokenValidationResult> ValidateWithAsync(string token, IReadOnlyList<VerificationKey> signingKeys) =>
        _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidAudience = audience,
            IssuerSigningKeys = signingKeys.Select(k => k.Key).ToList(),
            IssuerSigningKeyValidator = (key, securityToken, _) => IssuedBeforeRetirement(signingKeys, key, securityToken),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            ValidateLifetime = true,
            ClockSkew = TokenLifetimes.ClockSkew,
            LifetimeValidator = (notBefore, expires, _, parameters) =>
            {
                var now = timeProvider.GetUtcNow().UtcDateTime;
                return expires is { } exp && exp + parameters.ClockSkew > now
                    && (notBefore is not { } nbf || nbf - parameters.ClockSkew <= now)
                    && exp - (notBefore ?? exp) <= TokenLifetimes.Max;
            },
        });

    /// <summary>
    /// The retirement rule: a retired key's token must carry <c>iat</c> no later than the retirement and expire
    /// within a token lifetime of it (clock skew allowed, for the issuer's clock and the leader's differ). The
    /// lifetime bound also stops a backdated <c>iat</c> from reviving the key.
    /// </summary>
    private static bool IssuedBeforeRetirement(IReadOnlyList<VerificationKey> keys, SecurityKey key, SecurityToken token)
    {
        var retiredAt = keys.FirstOrDefault(k => ReferenceEquals(k.Key, key))?.RetiredAt
            ?? keys.FirstOrDefault(k => key.KeyId is { Length: > 0 } && k.Key.KeyId == key.KeyId)?.RetiredAt;
        if (retiredAt is not { } retired)
        {
            return true;
        }

        var retiredUtc = retired.UtcDateTime;
        return token is JsonWebToken { IssuedAt: var issuedAt } jwt
            && issuedAt != DateTime.MinValue
            && issuedAt <= retiredUtc + TokenLifetimes.ClockSkew
            && jwt.ValidTo <= retiredUtc + TokenLifetimes.Max + TokenLifetimes.ClockSkew;
    }
}
