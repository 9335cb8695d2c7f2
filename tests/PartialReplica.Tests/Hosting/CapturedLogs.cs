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
            // A message template may name a value twice; the last one stands.
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (key, value) in state as IEnumerable<KeyValuePair<string, object?>> ?? [])
            {
                values[key] = value;
            }

            entries.Enqueue(new Entry(category, logLevel, eventId, values, formatter(state, exception), exception));
        }
    }
}
