using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PartialReplica.Tests.Hosting;

/// <summary>Keeps every log record a host writes, with its event id, state and exception, for tests to read.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, EventId EventId, IReadOnlyDictionary<string, object?> State, string Message, Exception? Exception);

    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            entries.Enqueue(new Entry(category, logLevel, eventId, values.ToDictionary(v => v.Key, v => v.Value), formatter(state, exception), exception));
        }
    }
}
