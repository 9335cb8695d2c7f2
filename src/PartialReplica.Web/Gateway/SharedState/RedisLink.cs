using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// The gateway's one connection to Redis, when <c>Gateway:Redis</c> is set. It connects in the background and keeps
/// reconnecting, so a gateway starts and serves while Redis is down; <see cref="Available"/> says whether shared state
/// can be used now. An outage is logged once when it starts and once when Redis answers again, whoever noticed it
/// (the connection's events or a command that failed); <see cref="Restored"/> fires then.
/// </summary>
internal sealed class RedisLink : IHostedService, IAsyncDisposable
{
    private readonly ConfigurationOptions? _configuration;
    private readonly string _prefix;
    private readonly ILogger<RedisLink> _logger;
    private readonly CancellationTokenSource _stop = new();
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private ConnectionMultiplexer? _connection;
    private readonly TaskCompletionSource<ISubscriber> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _connecting = Task.CompletedTask;

    // 1 while Redis is known unreachable; starts "down" until the first connection, without logging it.
    private int _down = 1;
    private int _announcedDown;
    private int _disposed;

    public RedisLink(IOptions<SharedStateOptions> options, IOptions<GatewayOptions> gateway, ILogger<RedisLink> logger)
    {
        _logger = logger;
        _configuration = options.Value.Shared ? TryParse(options.Value.Redis!) : null;
        // Gateways of different leaders (or accounts) may share one Redis: their keys and channels stay apart.
        _prefix = $"partial-replica:{gateway.Value.Issuer}:{gateway.Value.Account}:";
    }

    /// <summary>Raised (on a thread of the connection) when Redis answers again after an outage.</summary>
    public event Action? Restored;

    /// <summary>Whether <c>Gateway:Redis</c> is set.</summary>
    public bool Configured => _configuration is not null;

    /// <summary>Whether shared state can be used now: configured, connected, and no command failed since.</summary>
    public bool Available => _connection is { IsConnected: true } && Volatile.Read(ref _down) == 0;

    /// <summary>The database; use only when <see cref="Available"/>.</summary>
    public IDatabase Database => (_connection ?? throw new InvalidOperationException("Redis is not connected.")).GetDatabase();

    /// <summary>The pub/sub side; null until connected.</summary>
    public ISubscriber? Subscriber => _connection?.GetSubscriber();

    /// <summary>The pub/sub side once the connection exists (it may be down then: subscriptions are renewed after reconnects).</summary>
    public Task<ISubscriber> SubscriberAsync(CancellationToken cancellationToken) => _connected.Task.WaitAsync(cancellationToken);

    /// <summary>A key of this gateway tier: <paramref name="name"/> under the tier's prefix.</summary>
    public RedisKey Key(string name) => _prefix + name;

    /// <summary>A channel of this gateway tier.</summary>
    public RedisChannel Channel(string name) => RedisChannel.Literal(_prefix + name);

    /// <summary>The parsed configuration string, or null when it does not parse or names no server.</summary>
    public static ConfigurationOptions? TryParse(string configuration)
    {
        try
        {
            var parsed = ConfigurationOptions.Parse(configuration);
            return parsed.EndPoints.Count == 0 ? null : parsed;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Records that a command failed because Redis did not answer: the outage starts (logged once).</summary>
    public void ReportFailure(Exception exception)
    {
        // Announced once per outage, by whichever failure claims it first: two failures at once (a probe and the
        // connection's own event) both see Redis down, and only one may say so.
        Interlocked.Exchange(ref _down, 1);
        if (Interlocked.Exchange(ref _announcedDown, 1) == 0)
        {
            LogMessages.RedisUnavailable(_logger, exception.GetType().Name, exception);
        }
    }

    /// <summary>Whether <paramref name="exception"/> means Redis did not answer (as opposed to a bug here).</summary>
    public static bool IsOutage(Exception exception) => exception is RedisConnectionException or RedisTimeoutException or ObjectDisposedException;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_configuration is not null)
        {
            _connecting = ConnectAsync(_configuration.Clone(), _stop.Token);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        // Registered as itself and as a hosted service: the container disposes it twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        if (_connection is { } connection)
        {
            await connection.DisposeAsync();
        }
    }

    private async Task ConnectAsync(ConfigurationOptions configuration, CancellationToken cancellationToken)
    {
        // Keep trying in the background rather than fail the start: the gateway works without Redis.
        configuration.AbortOnConnectFail = false;
        configuration.ReconnectRetryPolicy ??= new ExponentialRetry(250, 5000);
        configuration.ClientName ??= "partial-replica-gateway";
        ConnectionMultiplexer connection;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(configuration);
        }
        catch (Exception e) when (IsOutage(e))
        {
            // Only a configuration the parser accepted and the connection refused outright ends here.
            ReportFailure(e);
            return;
        }

        connection.ConnectionFailed += (_, e) => ReportFailure(e.Exception ?? new IOException($"Redis connection lost: {e.FailureType}"));
        connection.ConnectionRestored += (_, _) => _ = ProbeAsync(connection);
        _connection = connection;
        _connected.TrySetResult(connection.GetSubscriber());

        // While Redis is known down (a lost connection, or a command that timed out on a live one), a PING a second
        // says when it answers again; the connection reconnects by itself.
        while (!cancellationToken.IsCancellationRequested)
        {
            if (Volatile.Read(ref _down) == 1)
            {
                await ProbeAsync(connection);
            }

            await Task.Delay(ProbeInterval, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task ProbeAsync(ConnectionMultiplexer connection)
    {
        try
        {
            await connection.GetDatabase().PingAsync();
            MarkUp();
        }
        catch (Exception e) when (IsOutage(e))
        {
            ReportFailure(e);
        }
    }

    private void MarkUp()
    {
        if (_connection is not { IsConnected: true } || Interlocked.Exchange(ref _down, 0) == 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _announcedDown, 0) == 1)
        {
            LogMessages.RedisBack(_logger);
        }
        else
        {
            LogMessages.RedisConnected(_logger);
        }

        Restored?.Invoke();
    }
}
