using System.Net.Http.Json;

namespace PartialReplica.Authn;

/// <summary>
/// The issuer's public keys fetched from its JWKS URL (the gateway's <c>/.well-known/jwks.json</c>), cached
/// for a few minutes and re-fetched when a token names an unknown key (at most once every few seconds). Each
/// key keeps the <c>retired_at</c> the gateway publishes, so the agent refuses what a retired key signs later.
/// </summary>
public sealed class HttpJwksSource(HttpClient http, Uri jwksUri, TimeProvider timeProvider) : IJwksSource
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (IReadOnlyList<VerificationKey> Keys, DateTimeOffset ReadAt)? _cached;

    /// <inheritdoc />
    public async Task<IReadOnlyList<VerificationKey>> GetKeysAsync(bool refresh, CancellationToken cancellationToken)
    {
        if (Fresh(refresh) is { } keys)
        {
            return keys;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Fresh(refresh) is { } again)
            {
                return again;
            }

            var document = await http.GetFromJsonAsync<JwksDocument>(jwksUri, cancellationToken)
                ?? throw new PartialReplicaException($"The JWKS at {jwksUri} is empty.");
            // Keys of another kind, curve or use are left out: they verify nothing this product accepts.
            var fetched = document.Keys
                .Select(k => k.ToVerificationKey())
                .OfType<VerificationKey>()
                .ToList();
            _cached = (fetched, timeProvider.GetUtcNow());
            return fetched;
        }
        finally
        {
            _gate.Release();
        }
    }

    private IReadOnlyList<VerificationKey>? Fresh(bool refresh) =>
        _cached is { } cached && timeProvider.GetUtcNow() - cached.ReadAt < (refresh ? MinRefreshInterval : CacheFor)
            ? cached.Keys
            : null;
}
