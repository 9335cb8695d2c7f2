using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// A gateway or follower agent running as a child process of the real binary
/// (<c>dotnet partial-replica.dll serve ...</c>) on a fixed loopback port, so a test can SIGKILL it and
/// start it again where its peers expect it. Disposing kills it.
/// </summary>
internal sealed class ChildHost : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly string[] InheritedSettings =
        ["PARTIALREPLICA_LEADER", "PARTIALREPLICA_FOLLOWER_DB", "PARTIALREPLICA_GATEWAY_URL", "PARTIALREPLICA_ACCOUNT", "CONJUR_DATA_KEY", "PARTIALREPLICA_API_KEY", "PARTIALREPLICA_GATEWAY_KEY"];

    private readonly string[] _arguments;
    private readonly Dictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private bool _keepAll;

    private ChildHost(string label, int port, string[] arguments, Dictionary<string, string> environment)
    {
        Label = label;
        Port = port;
        _arguments = arguments;
        _environment = environment;
    }

    /// <summary>What the host is, for messages (<c>gateway gw-a</c>, <c>agent east-1</c>).</summary>
    public string Label { get; }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Whether the process is alive.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Every output line so far, when <see cref="LogEverything"/> was called; else the latest ones.</summary>
    public IReadOnlyList<string> Output => _output.ToArray();

    /// <summary>Keeps every line at the usual log level (for tests that count lines over a long, noisy run).</summary>
    public ChildHost KeepAllLines()
    {
        _keepAll = true;
        return this;
    }

    /// <summary>Logs at Trace level and keeps every line (for tests that read the whole log).</summary>
    public ChildHost LogEverything()
    {
        _keepAll = true;
        _environment["Logging__LogLevel__Default"] = "Trace";
        _environment["Logging__LogLevel__Microsoft"] = "Trace";
        return this;
    }

    /// <summary>Sets one more environment variable for the next start.</summary>
    public ChildHost WithEnvironment(string name, string value)
    {
        _environment[name] = value;
        return this;
    }

    /// <summary>The process's latest output lines (for failure messages).</summary>
    public string OutputTail => string.Join(Environment.NewLine, _output.TakeLast(60));

    /// <summary>
    /// A gateway serving <paramref name="leader"/> as instance <paramref name="instanceId"/>. Dispatch settings go
    /// through the environment the ASP.NET way (<c>Dispatch__PollInterval</c>).
    /// </summary>
    public static ChildHost Gateway(string leader, string instanceId, IReadOnlyDictionary<string, string>? dispatch = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = leader,
            ["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64,
            ["CONJUR_DATA_KEY"] = TestDataKey.Base64,
            ["Dispatch__InstanceId"] = instanceId,
            ["Dispatch__PollInterval"] = "00:00:00.500",
            ["Dispatch__TakeoverInterval"] = "00:00:00.200",
            ["Dispatch__FollowersRefreshInterval"] = "00:00:00.200",
            ["Dispatch__BreakDuration"] = "00:00:01",
        };
        foreach (var (key, value) in dispatch ?? new Dictionary<string, string>())
        {
            environment["Dispatch__" + key] = value;
        }

        var listen = port ?? FreePort();
        return new ChildHost($"gateway {instanceId}", listen, ["serve", "gateway", "--urls", $"http://127.0.0.1:{listen}"], environment);
    }

    /// <summary>The agent of follower <paramref name="name"/> on <paramref name="port"/> (the URL its follower init recorded).</summary>
    public static ChildHost Agent(string name, string followerDb, string gatewayUrl, int port) =>
        new($"agent {name}", port,
            ["serve", "follower", "--name", name, "--gateway-url", gatewayUrl, "--urls", $"http://127.0.0.1:{port}"],
            new Dictionary<string, string> { ["PARTIALREPLICA_FOLLOWER_DB"] = followerDb });

    /// <summary>A free loopback port (the host binds it a moment later).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the process and waits until <c>/health/ready</c> answers 200.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Label} is already running.");
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        foreach (var argument in _arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var name in InheritedSettings)
        {
            info.Environment.Remove(name);
        }

        if (!_keepAll)
        {
            info.Environment["Logging__LogLevel__Default"] = "Warning";
        }

        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["PARTIALREPLICA_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                Assert.Fail($"{Label} exited with {process.ExitCode} before it was ready:{Environment.NewLine}{OutputTail}");
            }

            try
            {
                using var response = await Http.GetAsync($"{Url}/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail($"{Label} was not ready after 60 s:{Environment.NewLine}{OutputTail}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILLs the process (no shutdown hooks, no flushing) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (!_keepAll && _output.Count > 400 && _output.TryDequeue(out _))
        {
        }
    }
}
