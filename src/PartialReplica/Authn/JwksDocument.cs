using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Microsoft.IdentityModel.Tokens;

namespace PartialReplica.Authn;

/// <summary>A JSON Web Key Set (RFC 7517) holding only public keys, as served at <c>/.well-known/jwks.json</c>.</summary>
public sealed record JwksDocument([property: JsonPropertyName("keys")] IReadOnlyList<JwksKey> Keys)
{
    /// <summary>The public halves of the given EC keys.</summary>
    public static JwksDocument From(IEnumerable<SecurityKey> keys) =>
        new(keys.OfType<ECDsaSecurityKey>().Select(JwksKey.From).ToList());
}

/// <summary>One public P-256 key of a <see cref="JwksDocument"/>.</summary>
public sealed record JwksKey(
    [property: JsonPropertyName("kty")] string KeyType,
    [property: JsonPropertyName("crv")] string Curve,
    [property: JsonPropertyName("x")] string X,
    [property: JsonPropertyName("y")] string Y,
    [property: JsonPropertyName("kid")] string KeyId,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("alg")] string Algorithm)
{
    /// <summary>The public key of an EC security key; the private part is never exported.</summary>
    public static JwksKey From(ECDsaSecurityKey key)
    {
        var parameters = key.ECDsa.ExportParameters(includePrivateParameters: false);
        return new JwksKey("EC", "P-256", Base64UrlEncoder.Encode(parameters.Q.X), Base64UrlEncoder.Encode(parameters.Q.Y),
            key.KeyId, "sig", SecurityAlgorithms.EcdsaSha256);
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
}
