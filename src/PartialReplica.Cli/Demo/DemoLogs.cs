using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace PartialReplica.Cli.Demo;

/// <summary>
/// The demo's temp folder for logs: each host it starts (gateway, agents) and the demo's own steps log to a file
/// there instead of the console, so the console shows only the demo's steps and results. The folder is removed
/// after a demo that passed and kept, and named, after one that failed.
/// </summary>
internal sealed class DemoLogs : IDisposable
{
    public DemoLogs()
    {
        Folder = Path.Combine(Path.GetTempPath(), "partial-replica-demo-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)
            + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Folder);
        Demo = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Information).AddProvider(Provider("demo")));
    }

    /// <summary>The folder holding the logs.</summary>
    public string Folder { get; }

    /// <summary>The demo's own logger factory (setup, policy loads, follower init), writing to <c>demo.log</c>.</summary>
    public ILoggerFactory Demo { get; }

    /// <summary>A logger provider writing to <c>{name}.log</c> in <see cref="Folder"/>.</summary>
    public ILoggerProvider Provider(string name) => new FileLoggerProvider(Path.Combine(Folder, name + ".log"));

    /// <summary>Removes the folder (after a demo that passed).</summary>
    public void Remove()
    {
        Demo.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    public void Dispose() => Demo.Dispose();

    /// <summary>One line per entry: time, level, category, message, and the exception with its stack when there is one.</summary>
    private sealed class FileLoggerProvider(string path) : ILoggerProvider
    {
        private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        private readonly ConcurrentDictionary<string, FileLogger> _loggers = new(StringComparer.Ordinal);

        public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, category => new FileLogger(this, category));

        public void Dispose()
        {
            lock (_writer)
            {
                _writer.Dispose();
            }
        }

        private void Write(string line)
        {
            lock (_writer)
            {
                // Hosts may still log while they stop, after the demo has closed their file.
                if (_writer.BaseStream.CanWrite)
                {
                    _writer.WriteLine(line);
                }
            }
        }

        private sealed class FileLogger(FileLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}] {formatter(state, exception)}";
                provider.Write(exception is null ? line : line + Environment.NewLine + exception);
            }
        }
    }
}
