using System.Security.Cryptography;

namespace PartialReplica.Authn;

/// <summary>The gateway's active ES256 signing key and the <c>kid</c> its tokens carry.</summary>
/// <param name="KeyId">The key id written in the token header.</param>
/// <param name="ECDsa">The P-256 private key.</param>
public sealed record SigningKey(string KeyId, ECDsa ECDsa);
