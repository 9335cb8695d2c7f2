using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.UnitTests.Tls;

/// <summary>Which addresses serve plain HTTP where other machines can reach it, and the one warning per such address.</summary>
public sealed class PlainHttpWarningTests
{
    private const int WarningEventId = 2560;

    [Theory]
    [InlineData("http://0.0.0.0:8080", true)]
    [InlineData("http://[::]:8080", true)]
    [InlineData("http://+:8080", true)]
    [InlineData("http://*:8080", true)]
    [InlineData("http://10.1.2.3:8080", true)]
    [InlineData("http://gateway.example.com:8080", true)]
    [InlineData("HTTP://192.168.0.10", true)]
    [InlineData("http://127.0.0.1:8080", false)]
    [InlineData("http://127.0.0.2:8080", false)]
    [InlineData("http://[::1]:8080", false)]
    [InlineData("http://localhost:5000", false)]
    [InlineData("https://0.0.0.0:8443", false)]
    [InlineData("https://[::]:8443", false)]
    public void Plain_http_beyond_loopback_is_exposed_and_nothing_else(string address, bool exposed) =>
        Assert.Equal(exposed ? [address] : [], PlainHttpWarning.ExposedPlainHttp([address]));

    [Fact]
    public void The_warning_is_logged_once_per_exposed_address_with_its_event_id()
    {
        var provider = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider));

        PlainHttpWarning.WarnIfExposed(["http://127.0.0.1:1", "http://0.0.0.0:2", "https://0.0.0.0:3", "http://[::]:4"], factory.CreateLogger("test"));

        Assert.Equal(
            [(WarningEventId, LogLevel.Warning, "http://0.0.0.0:2"), (WarningEventId, LogLevel.Warning, "http://[::]:4")],
            provider.Entries.Select(e => (e.EventId, e.Level, e.Message.Split(',')[0]["Serving plain HTTP on ".Length..])));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
        }
    }
}
