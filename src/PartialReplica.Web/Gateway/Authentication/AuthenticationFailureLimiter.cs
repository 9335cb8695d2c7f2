using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// <see cref="IAuthenticationFailureLimiter"/> for one gateway process: two partitioned fixed-window limiters from
/// System.Threading.RateLimiting, one keyed by login and one by client address (IPv6 by /64, since one client holds
/// a whole /64), each permit being one failure. Failures are logged in aggregate: one summary per window, and one line
/// when a login or an address goes over its limit, never the key that was presented.
/// </summary>
internal sealed class AuthenticationFailureLimiter : IAuthenticationFailureLimiter, IDisposable
{
    // Beyond this many distinct logins or addresses in one window, only the totals grow.
    private const int MaxTalliedKeys = 10_000;

    private readonly AuthenticationLimitOptions _options;
    private readonly ILogger _logger;
    private readonly PartitionedRateLimiter<string> _logins;
    private readonly PartitionedRateLimiter<string> _addresses;
    private readonly ITimer _summaryTimer;
    private readonly Lock _gate = new();
    private Tally _tally = new();

    public AuthenticationFailureLimiter(
        IOptions<AuthenticationLimitOptions> options, TimeProvider timeProvider, ILogger<AuthenticationFailureLimiter> logger)
    {
        _options = options.Value;
        _logger = logger;
        _logins = Partitioned(_options.FailuresPerLogin, _options.Window);
        _addresses = Partitioned(_options.FailuresPerAddress, _options.Window);
        _summaryTimer = timeProvider.CreateTimer(_ => Summarise(), null, _options.Window, _options.Window);
    }

    /// <inheritdoc />
    public ValueTask<AuthenticationLimit> CheckClientAsync(IPAddress? client, CancellationToken cancellationToken)
    {
        // Zero permits asks whether any failure is left without spending one.
        using var lease = _addresses.AttemptAcquire(AddressKey(client), 0);
        if (lease.IsAcquired)
        {
            return ValueTask.FromResult(AuthenticationLimit.None);
        }

        lock (_gate)
        {
            _tally.Refused++;
        }

        return ValueTask.FromResult(Limited(lease));
    }

    /// <inheritdoc />
    public ValueTask<AuthenticationLimit> RecordFailureAsync(string login, IPAddress? client, CancellationToken cancellationToken)
    {
        var address = AddressKey(client);
        using var byLogin = _logins.AttemptAcquire(login);
        using var byAddress = _addresses.AttemptAcquire(address);
        bool announceLogin, announceAddress;
        lock (_gate)
        {
            _tally.Add(login, address);
            announceLogin = !byLogin.IsAcquired && _tally.Announced.Add("login\n" + login);
            announceAddress = !byAddress.IsAcquired && _tally.Announced.Add("address\n" + address);
        }

        var windowSeconds = (long)_options.Window.TotalSeconds;
        if (announceLogin)
        {
            LogMessages.LoginFailuresLimited(_logger, login, _options.FailuresPerLogin, windowSeconds);
        }

        if (announceAddress)
        {
            LogMessages.AddressFailuresLimited(_logger, address, _options.FailuresPerAddress, windowSeconds);
        }

        if (!byLogin.IsAcquired || !byAddress.IsAcquired)
        {
            var retryAfter = new[] { byLogin, byAddress }.Where(l => !l.IsAcquired).Max(l => Limited(l).RetryAfter);
            return ValueTask.FromResult(new AuthenticationLimit(true, retryAfter));
        }

        return ValueTask.FromResult(AuthenticationLimit.None);
    }

    public void Dispose()
    {
        _summaryTimer.Dispose();
        Summarise();
        _logins.Dispose();
        _addresses.Dispose();
    }

    /// <summary>
    /// Counts a failure that another limiter (the shared one, <see cref="SharedState.RedisAuthenticationFailureLimiter"/>)
    /// decided on, for this gateway's window summary only.
    /// </summary>
    internal void Summarise(string login, IPAddress? client)
    {
        lock (_gate)
        {
            _tally.Add(login, AddressKey(client));
        }
    }

    /// <summary>Counts an attempt refused by another limiter, for this gateway's window summary only.</summary>
    internal void SummariseRefused()
    {
        lock (_gate)
        {
            _tally.Refused++;
        }
    }

    /// <summary>The partition key of a client address: IPv4 as is, IPv6 by its /64 prefix.</summary>
    internal static string AddressKey(IPAddress? client)
    {
        if (client is null)
        {
            return "unknown";
        }

        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        if (client.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return client.ToString();
        }

        var bytes = client.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static PartitionedRateLimiter<string> Partitioned(int failures, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failures,
            Window = window,
            QueueLimit = 0,
        }));

    private AuthenticationLimit Limited(RateLimitLease lease) =>
        new(true, lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero ? retryAfter : _options.Window);

    private void Summarise()
    {
        Tally tally;
        lock (_gate)
        {
            tally = _tally;
            _tally = new Tally();
        }

        if (tally.Failures == 0 && tally.Refused == 0)
        {
            return;
        }

        var (topLogin, loginCount) = tally.Logins.MaxBy(p => p.Value) is var l && l.Key is not null ? (l.Key, l.Value) : ("-", 0);
        var (topAddress, addressCount) = tally.Addresses.MaxBy(p => p.Value) is var a && a.Key is not null ? (a.Key, a.Value) : ("-", 0);
        LogMessages.AuthenticationFailuresSummary(_logger, tally.Failures, (long)_options.Window.TotalSeconds, tally.Refused,
            tally.Logins.Count, tally.Addresses.Count, topLogin, loginCount, topAddress, addressCount);
    }

    /// <summary>What one window saw.</summary>
    private sealed class Tally
    {
        public long Failures { get; private set; }

        public long Refused { get; set; }

        public Dictionary<string, int> Logins { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, int> Addresses { get; } = new(StringComparer.Ordinal);

        /// <summary>Logins and addresses already reported over their limit in this window.</summary>
        public HashSet<string> Announced { get; } = new(StringComparer.Ordinal);

        public void Add(string login, string address)
        {
            Failures++;
            Count(Logins, login);
            Count(Addresses, address);
        }

        private static void Count(Dictionary<string, int> counts, string key)
        {
            if (counts.TryGetValue(key, out var count))
            {
                counts[key] = count + 1;
            }
            else if (counts.Count < MaxTalliedKeys)
            {
                counts[key] = 1;
            }
        }
    }
}
