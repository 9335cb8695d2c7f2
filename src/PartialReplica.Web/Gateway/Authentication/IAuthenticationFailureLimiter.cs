using System.Net;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// Limits failed API-key authentications per login and per client address (SPEC S5). Only failures count: a
/// correct key is never slowed by failures of other logins or from other addresses. The in-process
/// <see cref="AuthenticationFailureLimiter"/> serves one gateway; a shared store (Redis, SPEC F14) can implement the
/// same contract for a tier of gateways.
/// </summary>
internal interface IAuthenticationFailureLimiter
{
    /// <summary>
    /// Before the key is checked: whether <paramref name="client"/> has already used up its failures for this window,
    /// in which case the attempt is refused without reading the database. The login's own count is not consulted
    /// here, so nobody can lock a login out by failing on it from elsewhere.
    /// </summary>
    ValueTask<AuthenticationLimit> CheckClientAsync(IPAddress? client, CancellationToken cancellationToken);

    /// <summary>
    /// After a wrong key: counts the failure against the login and the client address, and says whether either is
    /// now over its limit (the answer is then 429 instead of 401).
    /// </summary>
    ValueTask<AuthenticationLimit> RecordFailureAsync(string login, IPAddress? client, CancellationToken cancellationToken);
}

/// <summary>Whether an attempt is refused for too many failures, and when the caller may try again.</summary>
/// <param name="Limited">True when the attempt is refused with 429.</param>
/// <param name="RetryAfter">How long until the limit lifts (whole seconds in <c>Retry-After</c>).</param>
internal readonly record struct AuthenticationLimit(bool Limited, TimeSpan RetryAfter)
{
    /// <summary>Not limited.</summary>
    public static AuthenticationLimit None => default;
}
