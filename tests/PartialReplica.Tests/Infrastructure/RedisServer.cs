using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> of the test's own on a free loopback port, in a temp directory, without persistence.
/// <see cref="KillAsync"/> stops it for real (SIGKILL) and <see cref="StartAgainAsync"/> starts it again on the same
/// port, for outage tests; disposing kills it and removes the directory.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pr-redis-").FullName;
    private Process? _process;

    private readonly string? _password;

    private RedisServer(int port, string? password)
    {
        Port = port;
        _password = password;
    }

    /// <summary>The loopback port it listens on.</summary>
    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string for it (what <c>Gateway:Redis</c> takes), with its password if any.</summary>
    public string Configuration => _password is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},password={_password}";

    /// <summary>Starts a server on a free port (requiring <paramref name="password"/> when given) and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync(string? password = null)
    {
        var server = new RedisServer(FreePort(), password);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again, after <see cref="KillAsync"/>) on <see cref="Port"/> and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The redis-server is already running.");
        }

        var start = new ProcessStartInfo("redis-server")
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", _directory, "--protected-mode", "yes" })
        {
            start.ArgumentList.Add(argument);
        }

        if (_password is not null)
        {
            start.ArgumentList.Add("--requirepass");
            start.ArgumentList.Add(_password);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                "redis-server is not installed: the test script installs it (apt-get install redis-server).", e);
        }

        // Drained so the server never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await Eventually.HoldsAsync(AnswersAsync, $"redis-server on port {Port} answers PING", TimeSpan.FromSeconds(20));
    }

    /// <summary>Kills the server (SIGKILL) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Whether the server answers PING now.</summary>
    private async Task<bool> AnswersAsync()
    {
        if (_process is { HasExited: true } exited)
        {
            throw new InvalidOperationException($"redis-server exited with code {exited.ExitCode} before answering.");
        }

        try
        {
            var options = ConfigurationOptions.Parse(Configuration);
            options.AbortOnConnectFail = true;
            options.ConnectTimeout = 1000;
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
            await connection.GetDatabase().PingAsync();
            return true;
        }
        catch (RedisConnectionException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
