using System.Security.Cryptography;
using PartialReplica.Conjur;

namespace PartialReplica.Authn;

/// <summary>
/// The key only gateways hold (SPEC S5): it encrypts the token-signing private keys stored in
/// <c>partial_replica.signing_keys</c>, in Slosilo's format with the key id as associated data. It is not the
/// data key: followers hold that one, and anyone holding the signing keys could forge the gateway's tokens.
/// Every gateway of a leader needs the same value; the leader database never sees it.
/// </summary>
public sealed class GatewayKey
{
    /// <summary>The environment variable the gateway and the CLI read it from.</summary>
    public const string EnvironmentVariable = "PARTIALREPLICA_GATEWAY_KEY";

    private const string HowToMakeOne =
        "set " + EnvironmentVariable + " to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`), the same value on every gateway of this leader";

    private readonly Slosilo _cipher;

    private GatewayKey(Slosilo cipher) => _cipher = cipher;

    /// <summary>Reads the key (base64 of 32 bytes); a missing or malformed key is one clear error that never quotes it.</summary>
    public static GatewayKey FromBase64(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            throw new PartialReplicaException($"No gateway key: {HowToMakeOne}.");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException e)
        {
            throw new PartialReplicaException($"{EnvironmentVariable} is not valid base64; {HowToMakeOne}.", e);
        }

        return key.Length == 32
            ? new GatewayKey(Slosilo.FromBase64Key(base64))
            : throw new PartialReplicaException($"{EnvironmentVariable} decodes to {key.Length} bytes; AES-256 needs exactly 32: {HowToMakeOne}.");
    }

    /// <summary>The key from <see cref="EnvironmentVariable"/>.</summary>
    public static GatewayKey FromEnvironment() => FromBase64(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>A fresh random key in the form <see cref="FromBase64"/> reads (demo and bench make throwaway ones).</summary>
    public static string GenerateBase64() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Encrypts a PKCS#8 private key bound to its key id.</summary>
    internal byte[] Protect(ReadOnlySpan<byte> privateKey, string kid) => _cipher.Encrypt(privateKey, kid);

    /// <summary>Decrypts a stored private key; a key that does not decrypt it is a clear error.</summary>
    internal byte[] Unprotect(ReadOnlySpan<byte> blob, string kid)
    {
        try
        {
            return _cipher.Decrypt(blob, kid);
        }
        catch (PartialReplicaException e)
        {
            throw new PartialReplicaException(
                $"This {EnvironmentVariable} does not match the leader's signing keys (signing key {kid} does not decrypt with it): " +
                "give this gateway the same key as the gateway that made them.", e);
        }
    }
}
