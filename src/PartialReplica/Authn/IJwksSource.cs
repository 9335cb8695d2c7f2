namespace PartialReplica.Authn;

/// <summary>Where a validator finds the issuer's public keys: the leader database or a JWKS URL.</summary>
public interface IJwksSource
{
    /// <summary>
    /// The keys tokens may be signed with, each with its retirement time. <paramref name="refresh"/> asks for a
    /// fresh read because a token named a key id the cached set lacks (the issuer may have rotated); sources may
    /// rate-limit it.
    /// </summary>
    Task<IReadOnlyList<VerificationKey>> GetKeysAsync(bool refresh, CancellationToken cancellationToken);
}
