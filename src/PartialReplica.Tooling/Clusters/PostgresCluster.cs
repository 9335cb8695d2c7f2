using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using PartialReplica.Leader.Relay;

namespace PartialReplica.Tooling.Clusters;

/// <summary>
/// A throwaway PostgreSQL server on a free loopback port with <c>wal_level=logical</c>, made from the
/// installed server binaries (it stands in for Testcontainers, which needs Docker). The first cluster
/// runs initdb once into a template; later ones copy it, which takes a fraction of a second.
/// Disposing stops the server and deletes its files.
/// </summary>
public sealed class PostgresCluster : IPostgresServer, IAsyncDisposable
{
    private const string Superuser = "postgres";
    private static readonly SemaphoreSlim TemplateGate = new(1, 1);

    private readonly PostgresBinaries _binaries;
    private bool _disposed;

    private PostgresCluster(PostgresBinaries binaries, string dataDirectory, int port, string password, string name)
    {
        _binaries = binaries;
        DataDirectory = dataDirectory;
        Port = port;
        SuperuserPassword = password;
        Name = name;
    }

    /// <summary>The label given in <see cref="ClusterOptions.Name"/>.</summary>
    public string Name { get; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The server's data folder (its log is <c>server.log</c> inside).</summary>
    public string DataDirectory { get; }

    /// <summary>The password of the <c>postgres</c> superuser.</summary>
    public string SuperuserPassword { get; }

    /// <summary>The server's log file.</summary>
    public string LogPath => Path.Combine(DataDirectory, "server.log");

    /// <summary>Where every throwaway cluster of this machine lives.</summary>
    public static string Root { get; } = Path.Combine(Path.GetTempPath(), "partial-replica-clusters");

    /// <inheritdoc />
    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Password = SuperuserPassword,
        Database = database,
        KeepAlive = 10,
    }.ConnectionString;

    /// <summary>Starts a new cluster.</summary>
    public static async Task<PostgresCluster> StartAsync(ClusterOptions options, CancellationToken cancellationToken)
    {
        var binaries = PostgresBinaries.Locate();
        PrepareRoot();
        await RemoveOrphansAsync(binaries, cancellationToken);
        var (template, password) = await EnsureTemplateAsync(binaries, cancellationToken);

        var id = $"{Sanitize(options.Name)}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var dataDirectory = Path.Combine(Root, id);
        await File.WriteAllTextAsync(OwnerFile(dataDirectory), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken);
        await ProcessRunner.RunAsync("cp", ["-a", template, dataDirectory], cancellationToken);
        if (options.Tls is not null)
        {
            await InstallTlsFilesAsync(dataDirectory, options.Tls, cancellationToken);
        }

        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var conf = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"port = {port}");
            if (options.Durable)
            {
                conf.AppendLine("fsync = on").AppendLine("full_page_writes = on");
            }

            if (options.Tls is not null)
            {
                conf.AppendLine("ssl = on").AppendLine("ssl_cert_file = 'server.crt'").AppendLine("ssl_key_file = 'server.key'");
            }

            foreach (var (key, value) in options.Settings)
            {
                conf.AppendLine(CultureInfo.InvariantCulture, $"{key} = '{value.Replace("'", "''", StringComparison.Ordinal)}'");
            }

            await File.WriteAllTextAsync(Path.Combine(dataDirectory, "postgresql.instance.conf"), conf.ToString(), cancellationToken);
            var cluster = new PostgresCluster(binaries, dataDirectory, port, password, options.Name);
            try
            {
                await cluster.StartServerAsync(cancellationToken);
                return cluster;
            }
            catch (PartialReplicaException) when (attempt < 3)
            {
                // Another process took the port between our probe and the server's bind; try another.
            }
        }
    }

    /// <inheritdoc />
    public Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken) =>
        ServerDatabases.CreateAsync(ConnectionString(), prefix, cancellationToken);

    /// <inheritdoc />
    public Task DropDatabaseAsync(string database, CancellationToken cancellationToken) =>
        ServerDatabases.DropAsync(ConnectionString(), database, cancellationToken);

    /// <summary>Stops the server; <paramref name="immediate"/> is a crash-like stop without a checkpoint.</summary>
    public async Task StopAsync(bool immediate, CancellationToken cancellationToken)
    {
        NpgsqlConnection.ClearAllPools();
        await ProcessRunner.RunAsync(_binaries["pg_ctl"],
            ["stop", "-D", DataDirectory, "-w", "-t", "60", "-m", immediate ? "immediate" : "fast"], cancellationToken);
    }

    /// <summary>Starts a stopped server again on the same port.</summary>
    public Task StartServerAsync(CancellationToken cancellationToken) =>
        ProcessRunner.RunAsync(_binaries["pg_ctl"],
            ["start", "-D", DataDirectory, "-w", "-t", "60", "-l", LogPath], cancellationToken);

    /// <summary>Restarts the server (pg_ctl restart, fast mode).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        await ProcessRunner.RunAsync(_binaries["pg_ctl"],
            ["restart", "-D", DataDirectory, "-w", "-t", "60", "-m", "fast", "-l", LogPath], cancellationToken);
    }

    /// <summary>Stops the server and deletes its files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NpgsqlConnection.ClearAllPools();
        try
        {
            await ProcessRunner.RunAsync(_binaries["pg_ctl"],
                ["stop", "-D", DataDirectory, "-w", "-t", "30", "-m", "immediate"], CancellationToken.None);
        }
        catch (PartialReplicaException)
        {
            // Already stopped (a fault test may have stopped it); the files still go.
        }

        DeleteQuietly(DataDirectory);
        File.Delete(OwnerFile(DataDirectory));
    }

    private static void PrepareRoot()
    {
        Directory.CreateDirectory(Root);
        if (!OperatingSystem.IsWindows())
        {
            // Root creates it, the postgres user writes into it: world-writable with the sticky bit, like /tmp.
            File.SetUnixFileMode(Root, (UnixFileMode)Convert.ToInt32("1777", 8));
        }
    }

    private static async Task<(string Template, string Password)> EnsureTemplateAsync(PostgresBinaries binaries, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(binaries.Directory + "|v3")))[..12];
        var template = Path.Combine(Root, $"template-{key}");
        var passwordFile = template + ".password";

        await TemplateGate.WaitAsync(cancellationToken);
        try
        {
            await using var crossProcessLock = await AcquireFileLockAsync(template + ".lock", cancellationToken);
            if (Directory.Exists(template) && File.Exists(passwordFile))
            {
                return (template, await File.ReadAllTextAsync(passwordFile, cancellationToken));
            }

            var building = $"{template}.building-{Environment.ProcessId}";
            DeleteQuietly(building);
            var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var pwfile = building + ".pw";
            await File.WriteAllTextAsync(pwfile, password + "\n", cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(pwfile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            try
            {
                await ProcessRunner.RunAsync(binaries["initdb"],
                [
                    "-D", building, "-U", Superuser, $"--pwfile={pwfile}", "--auth-host=scram-sha-256",
                    "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
                ], cancellationToken);
            }
            finally
            {
                File.Delete(pwfile);
            }

            // Settings every throwaway cluster shares; postgresql.instance.conf (port, durability) comes last.
            var conf = """

                # partial-replica throwaway cluster
                listen_addresses = '127.0.0.1'
                unix_socket_directories = ''
                wal_level = logical
                max_wal_senders = 30
                max_replication_slots = 30
                max_logical_replication_workers = 16
                max_worker_processes = 32
                max_connections = 200
                shared_buffers = 32MB
                max_slot_wal_keep_size = 1GB
                # Apply workers start at once, not after PostgreSQL 15's 5 s launcher throttle (relay, then followers).
                wal_retrieve_retry_interval = 50ms
                fsync = off
                full_page_writes = off
                logging_collector = off
                log_min_messages = warning
                include_if_exists = 'postgresql.instance.conf'

                """;
            await File.AppendAllTextAsync(Path.Combine(building, "postgresql.conf"), conf, cancellationToken);

            // Follower logins reach their relay database and nothing else (S6): these lines come before initdb's.
            var hba = Path.Combine(building, "pg_hba.conf");
            await File.WriteAllTextAsync(hba,
                "# partial-replica: follower logins reach only the relay database named like a role they hold\n" +
                string.Join('\n', RelayNames.HbaLines) + "\n\n" + await File.ReadAllTextAsync(hba, cancellationToken), cancellationToken);
            Directory.Move(building, template);
            await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
            return (template, password);
        }
        finally
        {
            TemplateGate.Release();
        }
    }

    /// <summary>
    /// Puts the certificate and key into the data folder, owned by the server's user with the key at 0600 (the
    /// server refuses a key others can read). They are written first under other names and copied by that user, so
    /// ownership is right when this process is root; the data folder (0700) hides the staging copies meanwhile.
    /// </summary>
    private static async Task InstallTlsFilesAsync(string dataDirectory, ClusterTls tls, CancellationToken cancellationToken)
    {
        foreach (var (name, pem, mode) in new[] { ("server.crt", tls.CertificatePem, "0644"), ("server.key", tls.PrivateKeyPem, "0600") })
        {
            var staged = Path.Combine(dataDirectory, name + ".staged");
            await File.WriteAllTextAsync(staged, pem, cancellationToken);
            try
            {
                await ProcessRunner.RunAsync("install", ["-m", mode, staged, Path.Combine(dataDirectory, name)], cancellationToken);
            }
            finally
            {
                File.Delete(staged);
            }
        }
    }

    private static async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromMinutes(2))
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>Stops and removes clusters whose creating process has died (a killed test run).</summary>
    private static async Task RemoveOrphansAsync(PostgresBinaries binaries, CancellationToken cancellationToken)
    {
        foreach (var owner in Directory.GetFiles(Root, "*.owner"))
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(owner, cancellationToken);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                // Its owner (another test run on this machine) removed it between the listing and the read.
                continue;
            }

            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || ProcessLiveness.IsAlive(pid))
            {
                continue;
            }

            var dataDirectory = owner[..^".owner".Length];
            if (File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
            {
                try
                {
                    await ProcessRunner.RunAsync(binaries["pg_ctl"], ["stop", "-D", dataDirectory, "-w", "-m", "immediate"], cancellationToken);
                }
                catch (PartialReplicaException)
                {
                    // It was not running after all.
                }
            }

            DeleteQuietly(dataDirectory);
            File.Delete(owner);
        }
    }

    private static string OwnerFile(string dataDirectory) => dataDirectory + ".owner";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Sanitize(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());

    private static void DeleteQuietly(string path)
    {
        // Another test process may be reaping the same stale directory at the same moment.
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
