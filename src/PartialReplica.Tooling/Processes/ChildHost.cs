using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PartialReplica.Tooling.Processes;

/// <summary>
/// A gateway or follower agent running as a child process of the real binary (<c>partial-replica serve ...</c>) on a
/// loopback port of its own: its memory and CPU are its own (the bench measures them), and a test can SIGKILL it and
/// start it again where its peers expect it. Killing or disposing it kills its whole process tree.
/// </summary>
internal sealed class ChildHost : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Settings a child must get from its factory, never from this process's environment.</summary>
    private static readonly string[] InheritedSettings =
        ["PARTIALREPLICA_LEADER", "PARTIALREPLICA_FOLLOWER_DB", "PARTIALREPLICA_GATEWAY_URL", "PARTIALREPLICA_ACCOUNT", "CONJUR_DATA_KEY", "PARTIALREPLICA_API_KEY", "PARTIALREPLICA_GATEWAY_KEY"];

    /// <summary>USER_HZ: 100 on every Linux architecture .NET runs on (the kernel's exported tick rate, not CONFIG_HZ).</summary>
    private const int ClockTicksPerSecond = 100;

    private readonly string[] _arguments;
    private readonly Dictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private bool _keepAll;

    private ChildHost(string label, int port, IEnumerable<string> arguments, Dictionary<string, string> environment)
    {
        Label = label;
        Port = port;
        _arguments = [.. arguments];
        _environment = environment;
    }

    /// <summary>What the host is, for messages (<c>gateway gw-a</c>, <c>agent east-1</c>).</summary>
    public string Label { get; }

    public int Port { get; }

    public string Url => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");

    /// <summary>Whether the process is alive.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Every output line so far, when <see cref="KeepAllLines"/> or <see cref="LogEverything"/> was called; else the latest ones.</summary>
    public IReadOnlyList<string> Output => _output.ToArray();

    /// <summary>The process's latest output lines (for failure messages).</summary>
    public string OutputTail => string.Join(Environment.NewLine, _output.TakeLast(60));

    /// <summary>
    /// A gateway serving <paramref name="leader"/> as instance <paramref name="instanceId"/>, with this process's
    /// <see cref="SharedKeys"/>. Its dispatch intervals are short (a takeover or a retry shows within a second);
    /// <paramref name="dispatch"/> overrides them the ASP.NET way (<c>PollInterval</c> becomes <c>Dispatch__PollInterval</c>).
    /// </summary>
    public static ChildHost Gateway(string leader, string instanceId, IReadOnlyDictionary<string, string>? dispatch = null, int? port = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = leader,
            ["PARTIALREPLICA_GATEWAY_KEY"] = SharedKeys.GatewayKeyBase64,
            ["CONJUR_DATA_KEY"] = SharedKeys.DataKeyBase64,
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

        return new ChildHost($"gateway {instanceId}", port ?? FreePort(), ["serve", "gateway"], environment);
    }

    /// <summary>The agent of follower <paramref name="name"/> on <paramref name="port"/> (the URL its follower init recorded).</summary>
    public static ChildHost Agent(string name, string followerDb, string gatewayUrl, int port) =>
        new($"agent {name}", port,
            ["serve", "follower", "--name", name, "--gateway-url", gatewayUrl],
            new Dictionary<string, string> { ["PARTIALREPLICA_FOLLOWER_DB"] = followerDb });

    /// <summary>
    /// Any <c>serve</c> command with exactly the settings in <paramref name="environment"/> and the product's default
    /// intervals (the bench's gateways and agents), on a free port.
    /// </summary>
    public static ChildHost Create(string label, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment) =>
        new(label, FreePort(), arguments, new Dictionary<string, string>(environment));

    /// <summary>A free loopback port (the host binds it a moment later).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

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

    /// <summary>Starts the process and waits until <c>/health/ready</c> answers 200.</summary>
    public Task StartAsync() => StartAsync(CancellationToken.None);

    /// <inheritdoc cref="StartAsync()"/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Launch();
        await WaitHealthyAsync("/health/ready", cancellationToken);
    }

    /// <summary>
    /// Starts the process and waits only until it listens (<c>/health/live</c>): an agent whose database has no
    /// schema yet is live but not ready until its follower init has run.
    /// </summary>
    public async Task StartListeningAsync(CancellationToken cancellationToken)
    {
        Launch();
        await WaitHealthyAsync("/health/live", cancellationToken);
    }

    /// <summary>Waits until the host reports ready (<c>/health/ready</c>: its database answers, its warm-up has run).</summary>
    public Task WaitReadyAsync(CancellationToken cancellationToken) => WaitHealthyAsync("/health/ready", cancellationToken);

    /// <summary>Peak resident set size so far (VmHWM), in MB.</summary>
    public double PeakRssMegabytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Running().Id}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var kb = double.Parse(line["VmHWM:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
                return kb / 1024;
            }
        }

        throw new PartialReplicaException("VmHWM not found in /proc status.");
    }

    /// <summary>CPU time the process used so far, user and system (utime + stime of <c>/proc/&lt;pid&gt;/stat</c>), in ms.</summary>
    public double CpuMilliseconds()
    {
        var stat = File.ReadAllText($"/proc/{Running().Id}/stat");
        // The command name (field 2) is in parentheses and may hold spaces; fields 14 and 15 follow it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks * 1000.0 / ClockTicksPerSecond;
    }

    /// <summary>SIGKILLs the process tree (no shutdown hooks, no flushing) and waits until it is gone.</summary>
    public Task KillAsync() => KillAsync(CancellationToken.None);

    /// <inheritdoc cref="KillAsync()"/>
    public async Task KillAsync(CancellationToken cancellationToken)
    {
        if (_process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync(cancellationToken);
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private void Launch()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Label} is already running.");
        }

        var info = BinaryStartInfo();
        foreach (var argument in _arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(Url);
        foreach (var name in InheritedSettings)
        {
            info.Environment.Remove(name);
        }

        if (!_keepAll)
        {
            info.Environment["Logging__LogLevel__Default"] = "Warning";
        }

        info.Environment["Logging__Console__FormatterName"] = "simple";
        // Workstation GC: a child is one of several processes on the machine, and the bench measures its own memory (P6).
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["PARTIALREPLICA_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        _process?.Dispose();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>
    /// The <c>partial-replica</c> binary beside this process's assemblies: itself when this process is its apphost (the
    /// bench), else <c>dotnet partial-replica.dll</c> (tests, or the CLI run through <c>dotnet</c>).
    /// </summary>
    private static ProcessStartInfo BinaryStartInfo()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "partial-replica")
        {
            return new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        }

        var dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        var info = new ProcessStartInfo(dotnet) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        return info;
    }

    private async Task WaitHealthyAsync(string route, CancellationToken cancellationToken)
    {
        var process = Running();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new PartialReplicaException($"{Label} exited with {process.ExitCode} before it answered {route}:{Environment.NewLine}{OutputTail}");
            }

            try
            {
                using var response = await Http.GetAsync(new Uri(Url + route), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Timed out; try again.
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new PartialReplicaException($"{Label} did not answer {route} within {StartTimeout.TotalSeconds:0} s:{Environment.NewLine}{OutputTail}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private Process Running() => _process ?? throw new InvalidOperationException($"{Label} is not running.");

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
