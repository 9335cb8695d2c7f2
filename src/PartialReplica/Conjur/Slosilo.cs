using System.Security.Cryptography;
using System.Text;

namespace PartialReplica.Conjur;

/// <summary>
/// Slosilo's symmetric format, as Conjur stores <c>secrets.value</c> and <c>credentials.api_key</c>: AES-256-GCM,
/// blob = <c>'G'</c> + 16-byte tag + 12-byte IV + ciphertext, associated data = the resource id (secrets) or the
/// role id (API keys). Secret values are read only by <c>secret set/get</c> and follower-side readers (the push path
/// copies ciphertext); the gateway opens API keys only, to authenticate.
/// </summary>
public sealed class Slosilo
{
    private const byte VersionMagic = (byte)'G';
    private const int TagLength = 16;
    private const int IvLength = 12;
    private const int HeaderLength = 1 + TagLength + IvLength;

    private readonly byte[] _key;

    private Slosilo(byte[] key) => _key = key;

    /// <summary>Reads the data key (base64 of 32 bytes), e.g. from <c>CONJUR_DATA_KEY</c>.</summary>
    public static Slosilo FromBase64Key(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            throw new PartialReplicaException("No data key: set CONJUR_DATA_KEY to the base64 of 32 random bytes (e.g. `openssl rand -base64 32`).");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException e)
        {
            throw new PartialReplicaException("CONJUR_DATA_KEY is not valid base64; it must be the base64 of 32 random bytes.", e);
        }

        return key.Length == 32
            ? new Slosilo(key)
            : throw new PartialReplicaException($"CONJUR_DATA_KEY decodes to {key.Length} bytes; AES-256 needs exactly 32.");
    }

    /// <summary>A fresh random key in the form <see cref="FromBase64Key"/> reads.</summary>
    public static string GenerateBase64Key() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Encrypts a value bound to its resource id.</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> plaintext, string resourceId) =>
        Encrypt(plaintext, resourceId, RandomNumberGenerator.GetBytes(IvLength));

    /// <summary>Encrypts with a given IV: only for known-answer tests (a reused IV breaks GCM).</summary>
    internal byte[] Encrypt(ReadOnlySpan<byte> plaintext, string resourceId, ReadOnlySpan<byte> givenIv)
    {
        var blob = new byte[HeaderLength + plaintext.Length];
        blob[0] = VersionMagic;
        var tag = blob.AsSpan(1, TagLength);
        var iv = blob.AsSpan(1 + TagLength, IvLength);
        givenIv.CopyTo(iv);
        using var aes = new AesGcm(_key, TagLength);
        aes.Encrypt(iv, plaintext, blob.AsSpan(HeaderLength), tag, Encoding.UTF8.GetBytes(resourceId));
        return blob;
    }

    /// <summary>Decrypts a blob; a wrong key, wrong resource id or tampered blob is a clear error.</summary>
    public byte[] Decrypt(ReadOnlySpan<byte> blob, string resourceId)
    {
        if (blob.Length < HeaderLength || blob[0] != VersionMagic)
        {
            throw new PartialReplicaException($"The stored value of {resourceId} is not in Slosilo's format.");
        }

        var plaintext = new byte[blob.Length - HeaderLength];
        using var aes = new AesGcm(_key, TagLength);
        try
        {
            aes.Decrypt(blob.Slice(1 + TagLength, IvLength), blob[HeaderLength..], blob.Slice(1, TagLength), plaintext, Encoding.UTF8.GetBytes(resourceId));
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new PartialReplicaException($"The value of {resourceId} does not decrypt with this CONJUR_DATA_KEY (wrong key, or the blob was altered).", e);
        }

        return plaintext;
    }
}
