using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Jose;

namespace PartialReplica.Authn;

/// <summary>A JSON Web Key Set (RFC 7517) holding only public keys, as served at <c>/.well-known/jwks.json</c>.</summary>
public sealed record JwksDocument([property: JsonPropertyName("keys")] IReadOnlyList<JwksKey> Keys)
{
    /// <summary>The public halves of the given keys, each retired one with its retirement time.</summary>
    public static JwksDocument From(IEnumerable<VerificationKey> keys) =>
        new(keys.Select(k => JwksKey.From(k.KeyId, k.PublicKey, k.RetiredAt)).ToList());
}

/// <summary>
/// One public P-256 key of a <see cref="JwksDocument"/>, made and read through jose-jwt's <see cref="Jwk"/>.
/// <c>retired_at</c> (not in RFC 7517: other readers ignore it) is when the key stopped signing, in seconds since
/// the epoch, so that agents refuse what it signs afterwards as the gateway does; absent while the key is active.
/// </summary>
public sealed record JwksKey(
    [property: JsonPropertyName("kty")] string KeyType,
    [property: JsonPropertyName("crv")] string Curve,
    [property: JsonPropertyName("x")] string X,
    [property: JsonPropertyName("y")] string Y,
    [property: JsonPropertyName("kid")] string KeyId,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("alg")] string Algorithm,
    [property: JsonPropertyName("retired_at"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? RetiredAt = null)
{
    /// <summary>The public key of <paramref name="key"/>; the private part is never exported.</summary>
    public static JwksKey From(string keyId, ECDsa key, DateTimeOffset? retiredAt = null)
    {
        var jwk = new Jwk(key, isPrivate: false);
        // Rounded up: a token issued within the retirement's last second stays valid.
        long? retired = retiredAt is { } r ? (r.ToUnixTimeMilliseconds() + 999) / 1000 : null;
        return new JwksKey(jwk.Kty, jwk.Crv, jwk.X, jwk.Y, keyId, Jwk.KeyUsage.Signature, TokenValidator.Algorithm, retired);
    }

    /// <summary>
    /// This entry as a validator's key with its retirement time, or null when it is not a well-formed P-256 public
    /// key for ES256 signatures (another kind of key in the set signs nothing this product accepts).
    /// </summary>
    public VerificationKey? ToVerificationKey()
    {
        if (KeyType != "EC" || Curve != "P-256" || string.IsNullOrEmpty(KeyId) || string.IsNullOrEmpty(X) || string.IsNullOrEmpty(Y)
            || (Algorithm is not null && Algorithm != TokenValidator.Algorithm) || (Use is not null && Use != Jwk.KeyUsage.Signature))
        {
            return null;
        }

        try
        {
            var key = new Jwk(Curve, X, Y, null).ECDsaKey();
            return new VerificationKey(KeyId, key, RetiredAt is { } retired ? DateTimeOffset.FromUnixTimeSeconds(retired) : null);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException or JoseException)
        {
            return null;
        }
    }
}
