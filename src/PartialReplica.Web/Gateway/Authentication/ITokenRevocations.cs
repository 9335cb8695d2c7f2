namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// The gateway's deny-list of tokens (SPEC S1, F14): "refuse the tokens of role R issued at or before T". A role whose
/// API key is rotated, or a follower removed, has its tokens denied at once; an entry lives as long as the tokens it
/// denies could (<see cref="PartialReplica.Authn.TokenLifetimes.Max"/> and the clock skew), so the list stays small.
/// Times are whole seconds, the precision of a token's <c>iat</c>. The in-process
/// <see cref="InProcessTokenRevocations"/> serves one gateway; <see cref="SharedState.RedisTokenRevocations"/> every
/// gateway sharing a Redis.
/// </summary>
internal interface ITokenRevocations
{
    /// <summary>Refuses from now on every token of <paramref name="roleId"/> issued at or before <paramref name="issuedAtOrBefore"/>.</summary>
    ValueTask DenyAsync(string roleId, DateTimeOffset issuedAtOrBefore, CancellationToken cancellationToken);

    /// <summary>The latest time at or before which <paramref name="roleId"/>'s tokens are refused, or null when none are.</summary>
    ValueTask<DateTimeOffset?> DeniedUntilAsync(string roleId, CancellationToken cancellationToken);
}

/// <summary>What token validation and issuing ask of <see cref="ITokenRevocations"/>.</summary>
internal static class TokenRevocationsExtensions
{
    /// <summary>Whether a token of <paramref name="roleId"/> issued at <paramref name="issuedAt"/> is refused.</summary>
    public static async ValueTask<bool> IsDeniedAsync(
        this ITokenRevocations revocations, string roleId, DateTimeOffset issuedAt, CancellationToken cancellationToken) =>
        await revocations.DeniedUntilAsync(roleId, cancellationToken) is { } deniedUntil && issuedAt <= deniedUntil;

    /// <summary>
    /// Waits, before a token is issued for <paramref name="roleId"/>, until a token issued now is past its role's
    /// denial: a token's <c>iat</c> is whole seconds, so one issued in the very second its key was rotated would be
    /// refused with the old ones. At most a second, and only right after a rotation.
    /// </summary>
    public static async ValueTask WaitUntilIssuableAsync(
        this ITokenRevocations revocations, string roleId, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        if (await revocations.DeniedUntilAsync(roleId, cancellationToken) is not { } deniedUntil)
        {
            return;
        }

        // A timer may fire a little before the wall clock gets there: checked again after each wait.
        while (deniedUntil + TimeSpan.FromSeconds(1) - timeProvider.GetUtcNow() is var wait && wait > TimeSpan.Zero)
        {
            await Task.Delay(wait + TimeSpan.FromMilliseconds(1), timeProvider, cancellationToken);
        }
    }

    /// <summary><paramref name="time"/> in the whole seconds of a token's <c>iat</c>.</summary>
    internal static DateTimeOffset ToSeconds(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());
}
