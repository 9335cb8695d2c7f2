using System.Collections.Concurrent;
using PartialReplica.Authn;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// <see cref="ITokenRevocations"/> in this gateway's memory: what this gateway was told. The default with one gateway,
/// and what a Redis-backed gateway falls back to while Redis does not answer.
/// </summary>
internal sealed class InProcessTokenRevocations(TimeProvider timeProvider) : ITokenRevocations
{
    /// <summary>How long an entry matters: a token issued at its time is expired (with the clock skew) after this.</summary>
    public static readonly TimeSpan EntryLifetime = TokenLifetimes.Max + TokenLifetimes.ClockSkew + TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _denied = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask DenyAsync(string roleId, DateTimeOffset issuedAtOrBefore, CancellationToken cancellationToken)
    {
        var at = TokenRevocationsExtensions.ToSeconds(issuedAtOrBefore);
        _denied.AddOrUpdate(roleId, at, (_, known) => known > at ? known : at);
        Prune();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<DateTimeOffset?> DeniedUntilAsync(string roleId, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_denied.TryGetValue(roleId, out var at) && at + EntryLifetime > timeProvider.GetUtcNow() ? at : (DateTimeOffset?)null);

    /// <summary>The entries that still matter (copied to Redis when it answers again).</summary>
    public IReadOnlyList<KeyValuePair<string, DateTimeOffset>> Current()
    {
        var now = timeProvider.GetUtcNow();
        return [.. _denied.Where(e => e.Value + EntryLifetime > now)];
    }

    private void Prune()
    {
        var now = timeProvider.GetUtcNow();
        foreach (var (role, at) in _denied)
        {
            if (at + EntryLifetime <= now)
            {
                _denied.TryRemove(new KeyValuePair<string, DateTimeOffset>(role, at));
            }
        }
    }
}
