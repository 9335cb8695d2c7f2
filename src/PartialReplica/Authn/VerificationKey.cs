using System.Security.Cryptography;

namespace PartialReplica.Authn;

/// <summary>
/// A published public key and, once its signing key was retired, when: a token it signed is accepted only if
/// it was issued by then (SPEC S5), so a retired key that leaks mints nothing that outlives its last tokens.
/// </summary>
/// <param name="KeyId">The token header's <c>kid</c> naming this key.</param>
/// <param name="PublicKey">The P-256 public key (never the private half).</param>
/// <param name="RetiredAt">When the key stopped signing; null while it is the active key.</param>
public sealed record VerificationKey(string KeyId, ECDsa PublicKey, DateTimeOffset? RetiredAt)
{
    /// <summary>The public half of <paramref name="key"/> alone, so a verifier never holds private material.</summary>
    public static VerificationKey PublicHalfOf(string keyId, ECDsa key, DateTimeOffset? retiredAt) =>
        new(keyId, ECDsa.Create(key.ExportParameters(includePrivateParameters: false)), retiredAt);
}
