using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S5 (issue 23): failed authentications are limited per login and per client address with 429 and
/// <c>Retry-After</c>, a correct key is not refused for other logins' or other addresses' failures, and failures are
/// logged in aggregate without the keys presented. Each test runs its own gateway (small limits) on the shared
/// leader; a second client address is 127.0.0.2, which the loopback interface holds as well as 127.0.0.1.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class AuthenticationLimitTests(GatewayFixture fixture)
{
    private static readonly IPAddress SecondClient = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Wrong_keys_for_one_login_get_429_with_Retry_After_from_any_address_while_the_right_key_still_works()
    {
        var l = await fixture.AddFollowerAsync();
        var m = await fixture.AddFollowerAsync();
        await using var gateway = await LimitedGateway.StartAsync(fixture.Leader, failuresPerLogin: 3, failuresPerAddress: 1000);
        using var second = gateway.ClientFrom(SecondClient);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await AuthenticateAsync(gateway.Http, l, ApiKeys.Generate())).Status);
        }

        var limited = await AuthenticateAsync(gateway.Http, l, ApiKeys.Generate());
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.InRange(limited.RetryAfterSeconds!.Value, 1, 60);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await AuthenticateAsync(second, l, ApiKeys.Generate())).Status);

        // Nobody locks a login out: its right key still buys a token, and another login is untouched.
        Assert.Equal(HttpStatusCode.OK, (await AuthenticateAsync(gateway.Http, l, l.ApiKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await AuthenticateAsync(second, l, l.ApiKey)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AuthenticateAsync(gateway.Http, m, ApiKeys.Generate())).Status);
        Assert.Equal(HttpStatusCode.OK, (await AuthenticateAsync(gateway.Http, m, m.ApiKey)).Status);
    }

    [Fact]
    public async Task Failures_from_one_client_address_get_429_there_and_another_address_is_unaffected()
    {
        var l = await fixture.AddFollowerAsync();
        await using var gateway = await LimitedGateway.StartAsync(fixture.Leader, failuresPerLogin: 1000, failuresPerAddress: 3);
        using var second = gateway.ClientFrom(SecondClient);

        for (var i = 0; i < 3; i++)
        {
            var unknown = new TestFollower("conjur/followers/" + GatewayFixture.Unique("nobody"), "", "", "");
            Assert.Equal(HttpStatusCode.Unauthorized, (await AuthenticateAsync(gateway.Http, unknown, ApiKeys.Generate())).Status);
        }

        var limited = await AuthenticateAsync(gateway.Http, l, ApiKeys.Generate());
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.Status);
        Assert.InRange(limited.RetryAfterSeconds!.Value, 1, 60);
        // The address that failed is refused outright, before its key is looked at.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await AuthenticateAsync(gateway.Http, l, l.ApiKey)).Status);

        Assert.Equal(HttpStatusCode.OK, (await AuthenticateAsync(second, l, l.ApiKey)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AuthenticateAsync(second, l, ApiKeys.Generate())).Status);
    }

    [Fact]
    public async Task Failures_are_logged_in_aggregate_without_the_presented_keys_even_at_trace_level()
    {
        var l = await fixture.AddFollowerAsync();
        await using var gateway = await LimitedGateway.StartAsync(fixture.Leader, failuresPerLogin: 5, failuresPerAddress: 1000, window: "00:00:02", trace: true);
        var wrongKeys = Enumerable.Range(0, 40).Select(_ => ApiKeys.Generate()).ToList();

        foreach (var key in wrongKeys)
        {
            Assert.Contains((await AuthenticateAsync(gateway.Http, l, key)).Status, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests });
        }

        Assert.Equal(HttpStatusCode.OK, (await AuthenticateAsync(gateway.Http, l, l.ApiKey)).Status);
        await Eventually.HoldsAsync(
            () => Task.FromResult(gateway.Log.Lines.Where(e => e.EventId == 2540).Sum(e => (long)e.State["Failures"]!) == 40),
            "the window summaries count all 40 failures");

        var warnings = gateway.Log.Lines.Where(e => e.Level >= LogLevel.Warning && e.EventId is 2002 or (>= 2540 and <= 2559)).ToList();
        Assert.Contains(warnings, e => e.EventId == 2541 && (string)e.State["Login"]! == "host/" + l.Name);
        Assert.DoesNotContain(warnings, e => e.EventId == 2002);
        // A summary and an over-the-limit line per 2-second window, not one line per failure.
        Assert.InRange(warnings.Count, 2, 10);
        foreach (var key in wrongKeys.Append(l.ApiKey))
        {
            Assert.DoesNotContain(gateway.Log.Lines, e => e.Message.Contains(key, StringComparison.Ordinal));
        }
    }

    private static async Task<(HttpStatusCode Status, long? RetryAfterSeconds)> AuthenticateAsync(HttpClient http, TestFollower follower, string apiKey)
    {
        using var response = await http.PostAsync(
            $"/authn/{GatewayFixture.Account}/{Uri.EscapeDataString("host/" + follower.Name)}/authenticate",
            new StringContent(apiKey, Encoding.UTF8, "text/plain"));
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (long)delta.TotalSeconds : (long?)null;
        return (response.StatusCode, retryAfter);
    }

    /// <summary>A gateway (dispatch off) with the given limits, its log captured.</summary>
    private sealed class LimitedGateway : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Uri _url;

        private LimitedGateway(WebApplication app, string url, CapturedLog log)
        {
            _app = app;
            _url = new Uri(url);
            Log = log;
            Http = new HttpClient { BaseAddress = _url };
        }

        public HttpClient Http { get; }

        public CapturedLog Log { get; }

        public static async Task<LimitedGateway> StartAsync(
            string leader, int failuresPerLogin, int failuresPerAddress, string window = "00:01:00", bool trace = false)
        {
            var (app, url) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?>
            {
                ["Dispatch:Enabled"] = "false",
                ["Gateway:AuthenticationLimits:FailuresPerLogin"] = failuresPerLogin.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Gateway:AuthenticationLimits:FailuresPerAddress"] = failuresPerAddress.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Gateway:AuthenticationLimits:Window"] = window,
                ["Logging:LogLevel:Default"] = trace ? "Trace" : "Warning",
            });
            var log = new CapturedLog();
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(log);
            return new LimitedGateway(app, url, log);
        }

        /// <summary>A client whose connections come from <paramref name="address"/> (a loopback address other than 127.0.0.1).</summary>
        public HttpClient ClientFrom(IPAddress address) => new(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(address, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = _url };

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    /// <summary>Every log entry, with its structured state.</summary>
    private sealed class CapturedLog : ILoggerProvider
    {
        private readonly ConcurrentQueue<Entry> _lines = new();

        public IReadOnlyList<Entry> Lines => _lines.ToArray();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        public sealed record Entry(string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> State);

        private sealed class Logger(string category, ConcurrentQueue<Entry> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                    ? pairs.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value)
                    : new Dictionary<string, object?>();
                lines.Enqueue(new Entry(category, logLevel, eventId.Id, formatter(state, exception) + exception, values));
            }
        }
    }
}
