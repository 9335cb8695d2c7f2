using System.Security.Cryptography;
using System.Text;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// Slosilo's blob written and read the way Conjur's Ruby does (<c>Slosilo::Symmetric</c>), with
/// <see cref="AesGcm"/> directly rather than the product's own class: <c>'G'</c> + tag (16) + IV (12) + ciphertext,
/// the record's id as associated data.
/// </summary>
internal static class ConjurBlob
{
    public static byte[] Seal(string base64Key, string aad, string plaintext)
    {
        var text = Encoding.UTF8.GetBytes(plaintext);
        var blob = new byte[29 + text.Length];
        blob[0] = (byte)'G';
        RandomNumberGenerator.Fill(blob.AsSpan(17, 12));
        using var aes = new AesGcm(Convert.FromBase64String(base64Key), 16);
        aes.Encrypt(blob.AsSpan(17, 12), text, blob.AsSpan(29), blob.AsSpan(1, 16), Encoding.UTF8.GetBytes(aad));
        return blob;
    }

    public static string Open(string base64Key, string aad, byte[] blob)
    {
        Assert.Equal((byte)'G', blob[0]);
        var text = new byte[blob.Length - 29];
        using var aes = new AesGcm(Convert.FromBase64String(base64Key), 16);
        aes.Decrypt(blob.AsSpan(17, 12), blob.AsSpan(29), blob.AsSpan(1, 16), text, Encoding.UTF8.GetBytes(aad));
        return Encoding.UTF8.GetString(text);
    }
}
