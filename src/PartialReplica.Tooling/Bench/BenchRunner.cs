using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Schema;
using PartialReplica.Status;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Tooling.Processes;
using Spectre.Console;

namespace PartialReplica.Tooling.Bench;

/// <summary>
/// <c>partial-replica bench</c> (SPEC §6): its own leader and followers, each workload measured for the
/// gateway and for native logical replication of the same <c>secrets</c> rows in the same run. Every
/// gateway follower is verified exact before any figure is reported.
/// </summary>
internal sealed partial class BenchRunner(
    BenchSizes sizes, bool quick, ILogger logger, bool quiet, bool onlyP10 = false, bool onlyP9 = false, bool onlyP8 = false, bool onlyP1 = false, bool onlyP3 = false) : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(10);
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Stopwatch _running = Stopwatch.StartNew();
    // The bench's own data key (secret values and API keys), thrown away with its servers; the gateway gets it too.
    private static readonly string DataKeyBase64 = Slosilo.GenerateBase64Key();
    private readonly Slosilo _crypto = Slosilo.FromBase64Key(DataKeyBase64);
    private readonly List<string> _verified = [];
    private PostgresCluster _leaderCluster = null!;
    private PostgresCluster _followers = null!;
    private PostgresCluster _natives = null!;
    private string _leader = "";
    private NpgsqlDataSource _leaderSource = null!;
    private ChildHost _gateway = null!;

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        if (onlyP8)
        {
            var fanOut = await MeasureFanOutAsync(cancellationToken);
            return new BenchReport(await MachineAsync(_steadyLeader, cancellationToken), quick, _verified, fanOut);
        }

        if (onlyP10)
        {
            var alone = await MeasureScaleOutAsync(cancellationToken);
            return new BenchReport(await MachineAsync(_steadyLeader, cancellationToken), quick, _verified, alone);
        }

        await StartAsync(cancellationToken);
        if (onlyP9)
        {
            return new BenchReport(await MachineAsync(_leader, cancellationToken), quick, _verified, EdgePagingFigures(await MeasureEdgePagingAloneAsync(cancellationToken)));
        }

        if (onlyP1 || onlyP3)
        {
            return new BenchReport(await MachineAsync(_leader, cancellationToken), quick, _verified, await MeasureLatencyFiguresAsync(onlyP1, onlyP3, cancellationToken));
        }

        var p1 = await MeasureInitialReplicateAsync(cancellationToken);
        var (p2, p2Followers, p2Natives) = await MeasureBurstAsync(cancellationToken);
        var rss = _gateway.PeakRssMegabytes();
        var p3 = await MeasureLatencyAsync(p2Followers[0], "bench/f0", p2Natives[0], cancellationToken);
        for (var f = 0; f < p2Natives.Length; f++)
        {
            await UnsubscribeNativeAsync(p2Natives[f], P2Subscription(f), cancellationToken);
        }

        var p7 = await MeasureDirectRevokeAsync(p2Followers[0], "bench/f0", cancellationToken);
        var p4 = await MeasureCaptureCostAsync(cancellationToken);
        var (p5Load, p5Count) = await MeasurePolicyAsync(cancellationToken);
        var p9 = await MeasureEdgePagingAsync(cancellationToken);

        // P1–P7's servers, gateway and agents are stopped: P10 has servers, followers and gateways of its own (a leader
        // server of its own also for its relay: a relay database serves one leader database).
        var machine = await MachineAsync(_leader, cancellationToken);
        await StopOwnedAsync();
        var p10 = await MeasureScaleOutAsync(cancellationToken);

        // P8 at full size (a million variables, twenty followers) takes about as long as the rest together: `bench --p8`
        // runs it alone. The quick run includes its small version, on servers of its own once P10's are stopped.
        IReadOnlyList<BenchFigure> p8 = [];
        if (quick)
        {
            await StopOwnedAsync();
            p8 = await MeasureFanOutAsync(cancellationToken);
        }

        var results = new List<BenchFigure>
        {
            InitialReplicateFigure(p1),
            new("P2", $"{sizes.P2Transactions:N0} single-row commits, 2 writers, 3 followers: last commit → all exact", p2.Gateway, p2.Native, "s", "≤ 0.5 s", "≤ 0.1 s"),
            LatencyFigure(p3),
            new("P4", "leader commits/s with capture (gateway) vs without (native)", p4.With, p4.Without, "commits/s", "≥ 80% of without", "≥ 90% of without"),
            new("P5", $"policy load of {sizes.P5Variables:N0} variables with grants", p5Load, null, "s", "≤ 5 s", "≤ 2 s"),
            new("P5c", $"granted-count for a follower granted {sizes.P1Secrets:N0} variables", p5Count, null, "s", "≤ 0.2 s", "≤ 0.05 s"),
            new("P6", "gateway peak RSS during P1–P2", Math.Round(rss, 1), null, "MB", "≤ 300 MB", "≤ 150 MB"),
            new("P7", $"grant revoked by direct SQL: commit → secret gone from the follower ({sizes.P7Trials} trials)", p7.P99, null, "ms", "p99 ≤ 1 s", "p99 ≤ 100 ms")
            {
                GatewayP50 = p7.P50,
            },
        };
        results.AddRange(EdgePagingFigures(p9));
        results.AddRange(p10);
        results.AddRange(p8);
        return new BenchReport(machine, quick, _verified, results);
    }

    private static async Task<object> MachineAsync(string leader, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(leader);
        await connection.OpenAsync(cancellationToken);
        return new
        {
            cores = Environment.ProcessorCount,
            memoryGiB = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0, 1),
            os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            dotnet = Environment.Version.ToString(),
            postgres = connection.PostgreSqlVersion.ToString(),
            durableCommits = true,
        };
    }

    /// <summary>
    /// Stops everything the run started, newest first. One failing disposal does not keep the rest running: the
    /// servers were started first and are stopped last, so a child host that failed to stop would otherwise leave
    /// three PostgreSQL servers behind. The failures are thrown together at the end.
    /// </summary>
    public ValueTask DisposeAsync() => StopOwnedAsync();

    private async ValueTask StopOwnedAsync()
    {
        List<Exception>? failures = null;
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                await _owned[i].DisposeAsync();
            }
            catch (Exception e)
            {
                (failures ??= []).Add(e);
            }
        }

        _owned.Clear();
        if (failures is not null)
        {
            throw new AggregateException("Stopping the bench's servers and hosts failed; the rest were stopped.", failures);
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        Say("starting leader, gateway-follower and native-follower servers (fsync on)");
        var clusters = await Task.WhenAll(
            StartLeaderClusterAsync("bench-leader", cancellationToken),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "bench-followers", Durable = true }, cancellationToken),
            // PostgreSQL 15's replication launcher starts apply workers at most once per wal_retrieve_retry_interval
            // (5 s by default), so a native P1 sample subscribing within 5 s of the one before would wait out the
            // rest. Lowered here so that native is measured copying, not waiting.
            PostgresCluster.StartAsync(new ClusterOptions
            {
                Name = "bench-native",
                Durable = true,
                Settings = new Dictionary<string, string> { ["wal_retrieve_retry_interval"] = "50ms" },
            }, cancellationToken));
        _owned.AddRange(clusters);
        (_leaderCluster, _followers, _natives) = (clusters[0], clusters[1], clusters[2]);
        _leader = _leaderCluster.ConnectionString(await _leaderCluster.CreateDatabaseAsync("conjur", cancellationToken));
        _leaderSource = NpgsqlDataSource.Create(_leader);
        _owned.Add(_leaderSource);

        await new LeaderSetup(logger).RunAsync(_leader, new SetupOptions { DataKey = _crypto }, cancellationToken);
        await BenchData.ExecuteAsync(_leader, "CREATE PUBLICATION bench_native_secrets FOR TABLE secrets", cancellationToken);
        await new PolicyLoader(logger).LoadAsync(_leaderSource, new PolicyLoadRequest
        {
            PolicyText = BenchData.Policy([
                .. Enumerable.Range(0, sizes.P1Samples).Select(sample => ("p1", P1Follower(sample))),
                ("s0", "bench/f0"), ("s1", "bench/f1"), ("s2", "bench/f2")]),
            FileName = "bench.yml",
            DataKey = _crypto,
        }, cancellationToken);

        _gateway = ChildHost.Create("gateway", ["serve", "gateway"], new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = _leader,
            // The bench's own gateway key, thrown away with its servers.
            [GatewayKey.EnvironmentVariable] = GatewayKey.GenerateBase64(),
            ["CONJUR_DATA_KEY"] = DataKeyBase64,
        });
        _owned.Add(_gateway);
        await _gateway.StartListeningAsync(cancellationToken);
    }

    /// <summary>
    /// A leader server. <paramref name="followers"/>: the most followers it serves at once; <paramref name="statements"/>:
    /// it preloads pg_stat_statements (P8); <paramref name="maxSlotWalKeep"/>: its <c>max_slot_wal_keep_size</c>, in place
    /// of the clusters' 1 GB.
    /// </summary>
    private static Task<PostgresCluster> StartLeaderClusterAsync(
        string name, CancellationToken cancellationToken, int followers = 12, bool statements = false, string? maxSlotWalKeep = null)
    {
        // P1's gateway clock starts when the follower's registration commits; P10 reads commit timestamps.
        // P10's leader holds a follower and a native subscription per follower: 12 + 12 slots and walsenders; P8's
        // also a table sync slot per native subscription during its initial copy.
        var senders = Math.Max(60, (3 * followers) + 10).ToString(CultureInfo.InvariantCulture);
        var settings = new Dictionary<string, string>
        {
            ["track_commit_timestamp"] = "on",
            ["max_wal_senders"] = senders,
            ["max_replication_slots"] = senders,
        };
        if (statements)
        {
            settings["shared_preload_libraries"] = "pg_stat_statements";
        }

        if (maxSlotWalKeep is not null)
        {
            settings["max_slot_wal_keep_size"] = maxSlotWalKeep;
        }

        return PostgresCluster.StartAsync(new ClusterOptions { Name = name, Durable = true, Settings = settings }, cancellationToken);
    }

    private async Task<(string Follower, FollowerInitResult Init)> AddGatewayFollowerAsync(string name, CancellationToken cancellationToken)
    {
        var follower = await CreateFollowerDatabaseAsync(cancellationToken);
        var agent = await StartAgentAsync(follower, name, cancellationToken);
        return (follower, await InitFollowerAsync(follower, name, agent.Url, cancellationToken));
    }

    /// <summary>A new database on the followers' server.</summary>
    private async Task<string> CreateFollowerDatabaseAsync(CancellationToken cancellationToken) =>
        _followers.ConnectionString(await _followers.CreateDatabaseAsync("follower", cancellationToken));

    /// <summary>An agent serving <paramref name="follower"/>.</summary>
    private async Task<ChildHost> StartAgentAsync(string follower, string name, CancellationToken cancellationToken)
    {
        var agent = ChildHost.Create($"agent {name}", ["serve", "follower", "--name", name], new Dictionary<string, string>
        {
            ["PARTIALREPLICA_FOLLOWER_DB"] = follower,
            ["PARTIALREPLICA_GATEWAY_URL"] = _gateway.Url,
        });
        _owned.Add(agent);
        await agent.StartListeningAsync(cancellationToken);
        return agent;
    }

    /// <summary>
    /// <c>follower init</c>: registers the follower and subscribes it to the other tables (waiting for their
    /// copy). With an agent URL the gateway starts its reconcile; a re-run records the URL.
    /// </summary>
    private async Task<FollowerInitResult> InitFollowerAsync(string follower, string name, string? agentUrl, CancellationToken cancellationToken)
    {
        await using var followerSource = NpgsqlDataSource.Create(follower);
        return await new FollowerInit(logger).RunAsync(_leader, followerSource,
            new FollowerInitOptions { Name = name, AgentUrl = agentUrl, DataKey = _crypto }, cancellationToken);
    }

    /// <summary>A database on the native server with the follower schema.</summary>
    private async Task<string> AddNativeFollowerAsync(CancellationToken cancellationToken)
    {
        var native = _natives.ConnectionString(await _natives.CreateDatabaseAsync("native", cancellationToken));
        await using var source = NpgsqlDataSource.Create(native);
        await new MigrationRunner(logger).MigrateAsync(source, DatabaseRole.Follower, cancellationToken);
        return native;
    }

    /// <summary>Subscribes a native follower to the secrets-only publication (the physical floor).</summary>
    private async Task SubscribeNativeAsync(string native, string name, bool copyData, CancellationToken cancellationToken)
    {
        var leader = new NpgsqlConnectionStringBuilder(_leader);
        await BenchData.ExecuteAsync(native,
            $"CREATE SUBSCRIPTION {SqlIdentifier.Quote(name)} CONNECTION " +
            SqlIdentifier.Literal($"host=127.0.0.1 port={leader.Port} dbname={leader.Database} user={leader.Username} password={leader.Password}") +
            $" PUBLICATION bench_native_secrets WITH (copy_data = {(copyData ? "true" : "false")})", cancellationToken);
    }

    /// <summary>
    /// Drops a native follower's subscription, and with it its slot and walsender on the leader, once the
    /// workloads that compare against it are measured. P4 and P5 then run on the gateway deployment alone:
    /// one walsender per follower. Kept, the comparison's subscriptions doubled the walsenders decoding every
    /// leader commit (eight for four followers) on two cores.
    /// </summary>
    private static Task UnsubscribeNativeAsync(string native, string name, CancellationToken cancellationToken) =>
        BenchData.ExecuteAsync(native, $"DROP SUBSCRIPTION {SqlIdentifier.Quote(name)}", cancellationToken);

    /// <summary>Checks a follower exact against P1–P7's leader, or <paramref name="leader"/> (the steady workloads').</summary>
    private async Task VerifyAsync(string what, string follower, string roleId, CancellationToken cancellationToken, NpgsqlDataSource? leader = null)
    {
        await using var followerSource = NpgsqlDataSource.Create(follower);
        var result = await FollowerVerifier.VerifyAsync(leader ?? _leaderSource, followerSource, roleId, cancellationToken);
        if (!result.Exact)
        {
            throw new PartialReplicaException(
                $"Correctness check failed for {what}: {result.Missing.Count} secret versions missing or different, {result.Extra.Count} extra. No figures are reported.");
        }

        _verified.Add($"{what}: {result.Expected} secret versions exact");
    }

    private static Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken) =>
        UntilAsync(condition, what, TimeSpan.FromMilliseconds(2), cancellationToken);

    /// <summary>Polls <paramref name="condition"/> every <paramref name="every"/> until it holds; returns how long that took.</summary>
    private static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, string what, TimeSpan every, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > Deadline)
            {
                throw new PartialReplicaException($"Benchmark step did not finish within {Deadline.TotalMinutes:0} min: {what}.");
            }

            await Task.Delay(every, cancellationToken);
        }

        return clock.Elapsed;
    }

    private void Say(string what)
    {
        if (!quiet)
        {
            AnsiConsole.MarkupLine($"[grey]bench {_running.Elapsed.TotalSeconds,5:0}s:[/] {Markup.Escape(what)}");
        }
    }
}
