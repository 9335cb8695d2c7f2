using Microsoft.IdentityModel.Tokens;

namespace PartialReplica.Authn;

/// <summary>
/// A published public key and, once its signing key was retired, when: a token it signed is accepted only if
/// it was issued by then (SPEC S5), so a retired key that leaks mints nothing that outlives its last tokens.
/// </summary>
/// <param name="Key">The verification key; its <c>KeyId</c> is the token header's <c>kid</c>.</param>
/// <param name="RetiredAt">When the key stopped signing; null while it is the active key.</param>
public sealed record VerificationKey(SecurityKey Key, DateTimeOffset? RetiredAt);
