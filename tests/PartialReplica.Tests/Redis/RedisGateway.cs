using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Hosting;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Web.Gateway.SharedState;

namespace PartialReplica.Tests.Redis;

/// <summary>A real gateway on a free loopback port, sharing state through <paramref name="redis"/> when given, its log captured.</summary>
internal sealed class RedisGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    private RedisGateway(WebApplication app, string url, CapturedLogs logs)
    {
        _app = app;
        Url = url;
        Logs = logs;
        Http = new HttpClient { BaseAddress = new Uri(url) };
    }

    public string Url { get; }

    public HttpClient Http { get; }

    public CapturedLogs Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a gateway for <paramref name="leader"/>; dispatch is off unless <paramref name="extra"/> says otherwise.</summary>
    public static async Task<RedisGateway> StartAsync(string leader, RedisServer? redis, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Dispatch:Enabled"] = "false",
            ["Gateway:Redis"] = redis?.Configuration,
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:Console:LogLevel:Default"] = "None",
            ["Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks"] = "None",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var logs = new CapturedLogs();
        var (app, url) = await WebHosts.StartGatewayAsync(leader, settings);
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        var gateway = new RedisGateway(app, url, logs);
        if (redis is not null)
        {
            await Eventually.HoldsAsync(async () => await gateway.ReadyAsync() is (HttpStatusCode.OK, "Healthy"), "the gateway reaches its Redis");
            await app.Services.GetRequiredService<FollowerChangeBroadcast>().Subscribed.WaitAsync(Eventually.DefaultDeadline);
        }

        return gateway;
    }

    /// <summary>POST …/authenticate with <paramref name="apiKey"/>: the status, the token on success, and Retry-After.</summary>
    public async Task<(HttpStatusCode Status, string Body, long? RetryAfterSeconds)> AuthenticateAsync(string login, string apiKey)
    {
        using var response = await Http.PostAsync(
            $"/authn/{GatewayFixture.Account}/{Uri.EscapeDataString(login)}/authenticate", new StringContent(apiKey, Encoding.UTF8, "text/plain"));
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (long)delta.TotalSeconds : (long?)null;
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), retryAfter);
    }

    /// <summary>A token for <paramref name="login"/>; fails the test unless the key buys one.</summary>
    public async Task<string> TokenAsync(string login, string apiKey)
    {
        var (status, body, _) = await AuthenticateAsync(login, apiKey);
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    /// <summary>Sends <paramref name="method"/> <paramref name="path"/> with <paramref name="token"/> as Conjur clients send it.</summary>
    public async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, string token)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary><c>/health/ready</c>: its status code and the first line (the overall status).</summary>
    public async Task<(HttpStatusCode Status, string Overall)> ReadyAsync()
    {
        var (status, body) = await ReadyTextAsync();
        return (status, body.Split('\n')[0]);
    }

    /// <summary><c>/health/ready</c>: its status code and whole text.</summary>
    public async Task<(HttpStatusCode Status, string Body)> ReadyTextAsync()
    {
        using var response = await Http.GetAsync("/health/ready");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        // A test may stop it early to read what it logs at its stop.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Logs.Dispose();
    }
}
