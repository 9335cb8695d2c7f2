using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.IdentityModel.Tokens;

namespace PartialReplica.Authn;

/// <summary>A JSON Web Key Set (RFC 7517) holding only public keys, as served at <c>/.well-known/jwks.json</c>.</summary>
public sealed record JwksDocument([property: JsonPropertyName("keys")] IReadOnlyList<JwksKey> Keys)
{
    /// <summary>The public halves of the given EC keys, each retired one with its retirement time.</summary>
    public static JwksDocument From(IEnumerable<VerificationKey> keys) =>
        new(keys.Where(k => k.Key is ECDsaSecurityKey).Select(k => JwksKey.From((ECDsaSecurityKey)k.Key, k.RetiredAt)).ToList());
}

/// <summary>
/// One public P-256 key of a <see cref="JwksDocument"/>. <c>retired_at</c> (not in RFC 7517: other readers
/// ignore it) is when the key stopped signing, in seconds since the epoch, so that agents refuse what it
/// signs afterwards as the gateway does; absent while the key is active.
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
    /// <summary>The public key of an EC security key; the private part is never exported.</summary>
    public static JwksKey From(ECDsaSecurityKey key, DateTimeOffset? retiredAt = null)
    {
        var parameters = key.ECDsa.ExportParameters(includePrivateParameters: false);
        // Rounded up: a token issued within the retirement's last second stays valid.
        long? retired = retiredAt is { } r ? (r.ToUnixTimeMilliseconds() + 999) / 1000 : null;
        return new JwksKey("EC", "P-256", Base64UrlEncoder.Encode(parameters.Q.X), Base64UrlEncoder.Encode(parameters.Q.Y),
            key.KeyId, "sig", SecurityAlgorithms.EcdsaSha256, retired);
    }

    /// <summary>A verification key from this entry.</summary>
    public ECDsaSecurityKey ToSecurityKey()
    {
        var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(X), Y = Base64UrlEncoder.DecodeBytes(Y) },
        });
        return new ECDsaSecurityKey(ecdsa) { KeyId = KeyId };
    }

    /// <summary>This entry as a validator's key, with its retirement time.</summary>
    public VerificationKey ToVerificationKey() =>
        new(ToSecurityKey(), RetiredAt is { } retired ? DateTimeOffset.FromUnixTimeSeconds(retired) : null);
}
