using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// Reads and builds compact JWS by hand, independent of the library the product uses, so that tests can forge any
/// header (crit, jku, jwk…) and any algorithm (none, HS256) the validator must refuse.
/// </summary>
internal static class TestJwt
{
    public static JsonElement Header(string token) => Part(token, 0);

    public static JsonElement Claims(string token) => Part(token, 1);

    public static string Kid(string token) => Header(token).GetProperty("kid").GetString()!;

    /// <summary>Claims as the gateway writes them, valid now for a minute.</summary>
    public static Dictionary<string, object> ValidClaims(string issuer, string audience, string subject)
    {
        var now = DateTimeOffset.UtcNow;
        return new Dictionary<string, object>
        {
            ["iss"] = issuer,
            ["aud"] = audience,
            ["sub"] = subject,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(1).ToUnixTimeSeconds(),
        };
    }

    /// <summary>An ES256 signature (IEEE P1363, as JWS wants) over the given header and claims.</summary>
    public static string SignES256(ECDsa key, IReadOnlyDictionary<string, object> header, IReadOnlyDictionary<string, object> claims)
    {
        var input = Encode(header) + "." + Encode(claims);
        var signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>An HMAC-SHA256 signature with <paramref name="secret"/> (the "public key as HMAC secret" attack).</summary>
    public static string SignHS256(byte[] secret, IReadOnlyDictionary<string, object> header, IReadOnlyDictionary<string, object> claims)
    {
        var input = Encode(header) + "." + Encode(claims);
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>Header and claims with any signature text at all (empty for <c>alg: none</c>).</summary>
    public static string Unsigned(IReadOnlyDictionary<string, object> header, IReadOnlyDictionary<string, object> claims, string signature) =>
        Encode(header) + "." + Encode(claims) + "." + signature;

    public static string Encode(object json) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(json));

    private static JsonElement Part(string token, int index)
    {
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[index]));
        return document.RootElement.Clone();
    }
}
