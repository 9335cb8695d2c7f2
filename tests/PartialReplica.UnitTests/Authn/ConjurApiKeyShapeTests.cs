using System.Net;
using System.Text;
using PartialReplica.Authn;
using PartialReplica.Conjur;

namespace PartialReplica.UnitTests.Authn;

/// <summary>
/// The pure parts of Conjur's credentials: the shape of <c>Credentials.random_api_key</c> (Ruby's base32-crockford
/// gem), Slosilo's known answer from cyberark/slosilo's own spec, and <c>Role#valid_origin?</c>.
/// </summary>
public sealed class ConjurApiKeyShapeTests
{
    [Theory]
    [InlineData(0u, "0")]
    [InlineData(31u, "Z")]
    [InlineData(32u, "10")]
    [InlineData(1234u, "16J")] // the gem's README: Base32::Crockford.encode(1234) # => "16J"
    [InlineData(123456789u, "3NQK8N")]
    [InlineData(2147483648u, "2000000")]
    [InlineData(4294967295u, "3ZZZZZZ")]
    public void Integers_encode_as_the_base32_crockford_gem_encodes_them(uint value, string expected) =>
        Assert.Equal(expected, ConjurApiKey.EncodeCrockford(value));

    [Fact]
    public void A_key_is_eight_big_endian_integers_of_the_salt_encoded_joined_and_lowercased()
    {
        var counting = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] edges = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x80, 0, 0, 0, .. Enumerable.Range(0, 16).Select(i => (byte)i)];

        Assert.Equal("20g320a1g740j2gb60t3gf8124gka1a5gqc1j6gve1t7gz", ConjurApiKey.FromSalt(counting));
        // Zero is "0" and no chunk is padded: Ruby's Integer#to_s(2) has no leading zeros.
        Assert.Equal("03zzzzzz1200000020g320a1g740j2gb60t3gf", ConjurApiKey.FromSalt(edges));
        Assert.Throws<ArgumentException>(() => ConjurApiKey.FromSalt(new byte[31]));
    }

    [Fact]
    public void Generated_keys_have_the_shape_and_differ()
    {
        var keys = Enumerable.Range(0, 200).Select(_ => ApiKeys.Generate()).ToList();

        Assert.All(keys, k => Assert.Matches(ConjurApiKey.ShapePattern, k));
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        // 8 × 32 random bits: nearly always 7 characters a chunk.
        Assert.InRange(keys.Average(k => k.Length), 53.0, 56.0);
    }

    [Fact]
    public void Slosilo_matches_the_known_answer_of_cyberark_slosilo_spec()
    {
        // spec/symmetric_spec.rb: key, iv, auth_data "some record id", plaintext, and the exact ciphertext.
        var key = Convert.FromHexString("5eba4976db310f690411fd14a7cddf6693fe937d0b01119814e03bc1e22076a5");
        var iv = Convert.FromHexString("d9ab6e0162fabdc2e5ea01ac");
        var ciphertext = Convert.FromHexString(
            "475e57319cd4cc87d3ff865b0e33c0c85ed9ab6e0162fabdc2e5ea01ac9eb93af7d465626571dc20c07347a4ae2cb8417c97bcfd85e1b933953ebd0a05fb151f0623334d39");
        // The same spec's message with empty auth data.
        var noAad = Convert.FromHexString(
            "476dda54e8499fb7dcbb84d351231ff48c0756938f5fc7bc3837c955f1af8ad6321c35488617193d427e592abc9d1b4a6554781f026c0909d365a41113792a959fcdc4409c");
        const string plaintext = "quick brown fox jumped over the lazy dog";
        var slosilo = Slosilo.FromBase64Key(Convert.ToBase64String(key));

        Assert.Equal(ciphertext, slosilo.Encrypt(Encoding.UTF8.GetBytes(plaintext), "some record id", iv));
        Assert.Equal(plaintext, Encoding.UTF8.GetString(slosilo.Decrypt(ciphertext, "some record id")));
        Assert.Equal(plaintext, Encoding.UTF8.GetString(slosilo.Decrypt(noAad, "")));
        Assert.Throws<PartialReplicaException>(() => slosilo.Decrypt(ciphertext, "asdf"));
    }

    [Theory]
    [InlineData(new string[0], "10.1.2.3", true)]
    [InlineData(new string[0], null, true)]
    [InlineData(new[] { "10.0.0.0/8" }, "127.0.0.1", false)]
    [InlineData(new[] { "10.0.0.0/8" }, "10.200.0.1", true)]
    [InlineData(new[] { "10.0.0.0/8", "127.0.0.1/32" }, "127.0.0.1", true)]
    [InlineData(new[] { "127.0.0.0/8" }, "::ffff:127.0.0.1", true)]
    [InlineData(new[] { "127.0.0.0/8" }, "::1", false)]
    [InlineData(new[] { "::1/128" }, "::1", true)]
    [InlineData(new[] { "127.0.0.0/8" }, null, false)]
    public void Restricted_to_allows_only_clients_inside_one_of_its_cidrs(string[] restrictedTo, string? client, bool allowed) =>
        Assert.Equal(allowed, ApiKeyAuthenticator.OriginAllowed(restrictedTo, client is null ? null : IPAddress.Parse(client)));
}
