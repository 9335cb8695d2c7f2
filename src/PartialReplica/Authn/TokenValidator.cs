using System.Security.Cryptography;
using System.Text.Json;
using Jose;

namespace PartialReplica.Authn;

/// <summary>
/// Validates gateway tokens anywhere: the gateway itself (keys from the leader) or a follower agent (keys fetched
/// from the gateway's JWKS with <see cref="HttpJwksSource"/>), with the same explicit rules (SPEC S1, S2):
/// a compact JWS of three parts whose header holds only <c>alg</c>, <c>kid</c> and <c>typ</c> (so <c>crit</c>,
/// <c>jku</c>, <c>x5u</c>, <c>jwk</c>, <c>x5c</c>, <c>b64</c>… are refused, never followed), <c>alg</c> exactly
/// <c>ES256</c>, a <c>kid</c> of the issuer's published keys, a signature jose-jwt verifies with that key only,
/// <c>iss</c> and <c>aud</c> equal to the expected strings, and <c>iat</c>, <c>nbf</c>, <c>exp</c> within
/// <see cref="TokenLifetimes.ClockSkew"/> of now and at most <see cref="TokenLifetimes.Max"/> apart. A token signed
/// by a retired key is accepted only if it was issued (<c>iat</c>) by the key's retirement and expires within a token
/// lifetime of it, so a retired key that leaks mints nothing.
/// </summary>
public sealed class TokenValidator(IJwksSource keys, string issuer, string audience, TimeProvider timeProvider)
{
    /// <summary>The only signature algorithm issued and accepted.</summary>
    public const string Algorithm = "ES256";

    // Far above a real token (~400 bytes); bounds the work a forged one can cost.
    private const int MaxTokenLength = 4096;

    private static readonly HashSet<string> AllowedHeaderParameters = ["alg", "kid", "typ"];

    /// <summary>Validates <paramref name="token"/>; never throws for a bad token, and never quotes it in the failure.</summary>
    public async Task<TokenValidation> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            return Refused("no token");
        }

        var (keyId, failure) = ReadHeader(token);
        if (keyId is null)
        {
            return Refused(failure);
        }

        var key = Find(await keys.GetKeysAsync(refresh: false, cancellationToken), keyId)
            // The issuer may have rotated since the keys were cached.
            ?? Find(await keys.GetKeysAsync(refresh: true, cancellationToken), keyId);
        return key is null ? Refused("signed by a key id the issuer does not publish") : Verify(token, key);
    }

    /// <summary>
    /// Fetches the keys and runs a whole validation before the first request needs it (so an agent's first push
    /// does not wait for them): a token signed by a throwaway key under a published key id, in every
    /// other respect valid. It must be refused; if it were accepted this throws, for the validator would be broken.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var published = await keys.GetKeysAsync(refresh: false, cancellationToken);
        if (published.Count == 0 || published[0].KeyId is not { Length: > 0 } keyId)
        {
            return;
        }

        using var throwaway = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = timeProvider.GetUtcNow();
        var forged = TokenIssuer.Sign(new SigningKey(keyId, throwaway),
            TokenIssuer.Claims(issuer, audience, "partial-replica/warm-up", now, now, now + TimeSpan.FromMinutes(1)));
        if ((await ValidateAsync(forged, cancellationToken)).IsValid)
        {
            throw new InvalidOperationException("A token signed by a key the issuer never published was accepted.");
        }
    }

    private static TokenValidation Refused(string? why) => new(null, why ?? "invalid token");

    private static VerificationKey? Find(IReadOnlyList<VerificationKey> published, string keyId) =>
        published.FirstOrDefault(k => string.Equals(k.KeyId, keyId, StringComparison.Ordinal));

    /// <summary>The header's key id when the header passes the rules above; else why not.</summary>
    private static (string? KeyId, string? Failure) ReadHeader(string token)
    {
        if (token.Length > MaxTokenLength)
        {
            return (null, "token too long");
        }

        var parts = token.Split('.');
        if (parts.Length != 3 || parts.Any(p => p.Length == 0))
        {
            return (null, "not a compact JWS of three non-empty parts");
        }

        using var document = ParseObject(parts[0]);
        if (document is null)
        {
            return (null, "header is not a JSON object");
        }

        string? alg = null, kid = null, typ = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (!AllowedHeaderParameters.Contains(property.Name) || !seen.Add(property.Name))
            {
                // crit, jku, x5u, jwk, x5c, b64… or a repeated parameter: nothing here understands them.
                return (null, "header has parameters other than alg, kid and typ, or repeats one");
            }

            if (property.Value.ValueKind != JsonValueKind.String)
            {
                return (null, "header parameter is not a string");
            }

            var value = property.Value.GetString();
            switch (property.Name)
            {
                case "alg": alg = value; break;
                case "kid": kid = value; break;
                default: typ = value; break;
            }
        }

        if (!string.Equals(alg, Algorithm, StringComparison.Ordinal))
        {
            return (null, "alg is not ES256");
        }

        if (string.IsNullOrEmpty(kid))
        {
            return (null, "no kid");
        }

        if (typ is not null && !string.Equals(typ, "JWT", StringComparison.OrdinalIgnoreCase))
        {
            return (null, "typ is not JWT");
        }

        return (kid, null);
    }

    private TokenValidation Verify(string token, VerificationKey key)
    {
        string payload;
        try
        {
            payload = JWT.Decode(token, key.PublicKey, JwsAlgorithm.ES256);
        }
        catch (Exception e) when (e is JoseException or CryptographicException or FormatException or ArgumentException or JsonException or InvalidCastException)
        {
            return Refused("bad signature");
        }

        using var claims = ParseJson(payload);
        if (claims is null)
        {
            return Refused("claims are not a JSON object");
        }

        var root = claims.RootElement;
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (root.EnumerateObject().Any(p => !names.Add(p.Name)))
        {
            return Refused("a claim is repeated");
        }

        if (String(root, "iss") != issuer)
        {
            return Refused("wrong issuer");
        }

        if (String(root, "aud") != audience)
        {
            return Refused("wrong audience");
        }

        if (Seconds(root, "exp") is not { } exp || Seconds(root, "nbf") is not { } nbf || Seconds(root, "iat") is not { } iat)
        {
            return Refused("exp, nbf or iat missing");
        }

        var now = timeProvider.GetUtcNow();
        var skew = TokenLifetimes.ClockSkew;
        if (exp + skew <= now)
        {
            return Refused("expired");
        }

        if (nbf - skew > now || iat - skew > now)
        {
            return Refused("not yet valid");
        }

        if (exp - nbf > TokenLifetimes.Max || exp - iat > TokenLifetimes.Max)
        {
            return Refused("lifetime longer than 8 minutes");
        }

        if (key.RetiredAt is { } retired && (iat > retired + skew || exp > retired + TokenLifetimes.Max + skew))
        {
            return Refused("signed by a key retired before the token was issued");
        }

        return String(root, "sub") is { Length: > 0 } subject ? new TokenValidation(subject, null) : Refused("token has no subject");
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static DateTimeOffset? Seconds(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
            && seconds is > 0 and < 253402300799
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    private static JsonDocument? ParseObject(string base64Url)
    {
        try
        {
            return ParseJson(System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(base64Url)));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static JsonDocument? ParseJson(string json)
    {
        try
        {
            var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
