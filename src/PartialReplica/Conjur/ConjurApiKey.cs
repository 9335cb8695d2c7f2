using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PartialReplica.Conjur;

/// <summary>
/// API keys in the shape of Conjur's <c>Credentials.random_api_key</c>: 32 random bytes read as eight big-endian
/// 32-bit unsigned integers, each written in Crockford's base32 the way Ruby's base32-crockford gem writes an
/// integer (most significant digit first, no padding), joined and lowercased. A key we issue is thus one Conjur
/// could have issued.
/// </summary>
internal static class ConjurApiKey
{
    /// <summary>
    /// The shape of every key made here, as a regular expression: eight Crockford chunks of one to seven characters
    /// (32 bits each), lowercase, nothing else. Tests check keys the product issues against it.
    /// </summary>
    internal const string ShapePattern = "^(?:[0-9a-hjkmnp-tv-z]{1,7}){8}$";

    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// <summary>A new key from 32 random bytes.</summary>
    public static string Generate() => FromSalt(RandomNumberGenerator.GetBytes(32));

    /// <summary>The key Conjur makes from these 32 bytes (its <c>Slosilo::Random.salt</c>).</summary>
    public static string FromSalt(ReadOnlySpan<byte> salt)
    {
        if (salt.Length != 32)
        {
            throw new ArgumentException("Conjur's API keys come from exactly 32 bytes.", nameof(salt));
        }

        var chunks = new string[8];
        for (var i = 0; i < chunks.Length; i++)
        {
            chunks[i] = EncodeCrockford(BinaryPrimitives.ReadUInt32BigEndian(salt.Slice(i * 4, 4)));
        }

        return string.Concat(chunks).ToLowerInvariant();
    }

    /// <summary><c>Base32::Crockford.encode(n)</c>: uppercase, most significant digit first, "0" for zero.</summary>
    public static string EncodeCrockford(uint value)
    {
        Span<char> digits = stackalloc char[7];
        var start = digits.Length;
        do
        {
            digits[--start] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
        while (value != 0);

        return new string(digits[start..]);
    }
}
