using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PartialReplica.Web.Gateway.Authentication;
using StackExchange.Redis;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// <see cref="IAuthenticationFailureLimiter"/> for a tier of gateways: the same limits and fixed windows as
/// <see cref="AuthenticationFailureLimiter"/>, counted in Redis so failures spread over every gateway reach the limit
/// together. Each count is one key per login or client address (IPv6 by /64) that a Lua script increments and, on
/// its first failure, gives the window as its time to live: the window starts at the first failure and the key goes
/// away when it ends. Retry-After is what is left of it. Each gateway still logs its own per-window summary of the
/// failures it saw (through the in-process limiter's tally). While Redis does not answer, the in-process limiter counts
/// instead (the outage is logged once by <see cref="RedisLink"/>); its counts are this gateway's alone.
/// </summary>
internal sealed class RedisAuthenticationFailureLimiter(
    RedisLink redis, AuthenticationFailureLimiter local, IOptions<AuthenticationLimitOptions> options, ILogger<RedisAuthenticationFailureLimiter> logger)
    : IAuthenticationFailureLimiter
{
    // Returns the count after this failure and the milliseconds left of its window.
    private const string CountScript = """
        local n = redis.call('INCR', KEYS[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if n == 1 or ttl < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
          ttl = tonumber(ARGV[1])
        end
        return {n, ttl}
        """;

    // Returns the count so far (0 when none) and the milliseconds left of its window.
    private const string ReadScript = """
        local n = tonumber(redis.call('GET', KEYS[1]) or '0')
        return {n, redis.call('PTTL', KEYS[1])}
        """;

    private readonly AuthenticationLimitOptions _options = options.Value;

    /// <inheritdoc />
    public async ValueTask<AuthenticationLimit> CheckClientAsync(IPAddress? client, CancellationToken cancellationToken)
    {
        if (!redis.Available)
        {
            return await local.CheckClientAsync(client, cancellationToken);
        }

        try
        {
            var (count, left) = await RunAsync(ReadScript, AddressKey(client), cancellationToken);
            if (count < _options.FailuresPerAddress)
            {
                return AuthenticationLimit.None;
            }

            local.SummariseRefused();
            return new AuthenticationLimit(true, RetryAfter(left));
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            redis.ReportFailure(e);
            return await local.CheckClientAsync(client, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask<AuthenticationLimit> RecordFailureAsync(string login, IPAddress? client, CancellationToken cancellationToken)
    {
        if (!redis.Available)
        {
            return await local.RecordFailureAsync(login, client, cancellationToken);
        }

        (long Count, long Left) byLogin, byAddress;
        try
        {
            var counts = await Task.WhenAll(
                RunAsync(CountScript, redis.Key("authn-failures:login:" + login), cancellationToken),
                RunAsync(CountScript, AddressKey(client), cancellationToken));
            (byLogin, byAddress) = (counts[0], counts[1]);
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            redis.ReportFailure(e);
            return await local.RecordFailureAsync(login, client, cancellationToken);
        }

        // This gateway's window summary counts the failures it saw (each gateway logs its own).
        local.Summarise(login, client);

        // The failure that first goes over a limit is logged, by whichever gateway counted it: once per window for the tier.
        var windowSeconds = (long)_options.Window.TotalSeconds;
        if (byLogin.Count == _options.FailuresPerLogin + 1)
        {
            LogMessages.LoginFailuresLimited(logger, login, _options.FailuresPerLogin, windowSeconds);
        }

        if (byAddress.Count == _options.FailuresPerAddress + 1)
        {
            LogMessages.AddressFailuresLimited(logger, AuthenticationFailureLimiter.AddressKey(client), _options.FailuresPerAddress, windowSeconds);
        }

        var over = new[] { (byLogin, _options.FailuresPerLogin), (byAddress, _options.FailuresPerAddress) }
            .Where(c => c.Item1.Count > c.Item2)
            .Select(c => RetryAfter(c.Item1.Left))
            .ToList();
        return over.Count == 0 ? AuthenticationLimit.None : new AuthenticationLimit(true, over.Max());
    }

    private RedisKey AddressKey(IPAddress? client) => redis.Key("authn-failures:address:" + AuthenticationFailureLimiter.AddressKey(client));

    private TimeSpan RetryAfter(long millisecondsLeft) =>
        millisecondsLeft > 0 ? TimeSpan.FromMilliseconds(millisecondsLeft) : _options.Window;

    private async Task<(long Count, long Left)> RunAsync(string script, RedisKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var result = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(script, [key], [(long)_options.Window.TotalMilliseconds]))!;
        return ((long)result[0], (long)result[1]);
    }
}
