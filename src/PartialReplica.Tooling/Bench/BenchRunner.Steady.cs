using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Gateways;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Schema;
using PartialReplica.Status;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tooling.Bench;

/// <summary>
/// P10 (issue 26): the steady workload (<see cref="SteadyWorkload"/>) pushed by one, two, then three gateways in one
/// run, then the same commits replicated natively; and an edge client's sync of its whole granted set.
/// </summary>
/// <remarks>
/// P10 has a leader server and a follower server of its own, started once P1–P7's are stopped: nothing else of the
/// bench runs while it is measured, and the follower server tracks commit timestamps.
/// <para>How latency is measured, without touching the measure: every commit's leader commit timestamp and, on each
/// follower granted its variable, the commit timestamp of the follower transaction that wrote the row
/// (<c>pg_xact_commit_timestamp(xmin)</c>; both servers run <c>track_commit_timestamp</c> on the same machine and
/// clock). They are read once every follower holds every row, so nothing polls the followers for each commit while
/// it is measured: the drain check counts rows every 100 ms and its timing does not enter any figure. A commit's
/// latency is to the last follower granted it; commits of variables no follower is granted have none.</para>
/// <para>Throughput: the run's commits divided by the time from the first commit until every one is on every follower
/// granted its variable (a commit no follower is granted is delivered when made). When the writers offer more than the gateways deliver, the backlog
/// grows and this is the delivery rate; when the gateways keep up, it is the leader's commit rate (the leader is the
/// bound: then <c>backlog</c>, the commits not yet everywhere when the last one committed, stays small).</para>
/// <para>Gateway CPU: utime + stime of every gateway process (<c>/proc/&lt;pid&gt;/stat</c>) from the start of the
/// writing until the followers hold every row, per commit. Leader transactions per commit: the leader database's
/// <c>pg_stat_database.xact_commit</c> over the same interval, less the writers' own commits (P10's leader does not
/// load pg_stat_statements; P8's does, and its runs count leader statements per commit too): the work the gateways,
/// agents' checks and relay do on the leader for each commit. Backends report these counters at most once a second,
/// so each end of the interval may be off by up to a second's worth.</para>
/// </remarks>
internal sealed partial class BenchRunner
{
    private const string SteadyEdgeHost = "bench/p10-edge";

    // The application_name of the bench's own connections to a steady leader, so that P8 counts only the deployment's.
    private const string BenchApplicationName = "partial-replica-bench";

    // Which figure's steady deployment runs (P10, then P8 on servers of their own): names its variables, sets,
    // followers and servers.
    private string _steadyTag = "p10";
    private PostgresCluster _steadyFollowers = null!;
    private string _steadyLeader = "";
    private NpgsqlDataSource _steadyLeaderSource = null!;
    private readonly List<ChildHost> _steadyGateways = [];
    private readonly Dictionary<string, string> _steadyGatewayEnvironment = [];

    // Whether the steady leader runs pg_stat_statements (P8's does): then runs count leader statements per commit too.
    private bool _steadyStatements;

    private string SteadyPrefix => "bench/" + _steadyTag;

    private string SteadyFollower(int f) => string.Create(CultureInfo.InvariantCulture, $"bench/{_steadyTag}-f{f}");

    private string SteadySet(int f) => string.Create(CultureInfo.InvariantCulture, $"{_steadyTag}s{f}");

    /// <summary>P10: throughput and latency at 1..G gateways, beside native; then the edge sync.</summary>
    private async Task<IReadOnlyList<BenchFigure>> MeasureScaleOutAsync(CancellationToken cancellationToken)
    {
        var w = sizes.P10;
        var (followers, roles) = await StartSteadyAsync(w, cancellationToken);
        var expected = new long[w.Followers];
        for (var f = 0; f < w.Followers; f++)
        {
            expected[f] = Enumerable.Range(0, w.Variables).Count(i => w.Granted(f, i));
        }

        var runs = new List<SteadyRun>();
        for (var g = 1; g <= w.Gateways; g++)
        {
            if (g > 1)
            {
                Say($"P10: starting gateway {g}");
                await StartSteadyGatewayAsync(cancellationToken);
            }

            await AwaitSteadyAssignmentAsync(w, cancellationToken);
            Say($"P10: {g} gateway(s), {w.Followers} followers: warm-up {w.WarmUp.TotalSeconds:0.#} s at {w.Rate / 5:N0} commits/s");
            await RunSteadyAsync(w, w.Rate / 5, w.WarmUp, followers, expected, cancellationToken);
            Say($"P10: {g} gateway(s): {w.Rate:N0} commits/s offered for {w.Duration.TotalSeconds:0.#} s");
            runs.Add(await RunSteadyAsync(w, w.Rate, w.Duration, followers, expected, cancellationToken));
        }

        for (var f = 0; f < w.Followers; f++)
        {
            await VerifyAsync($"P10 follower {f}", followers[f], roles[f], cancellationToken, _steadyLeaderSource);
        }

        var edge = await MeasureEdgeSyncAsync(w, cancellationToken);

        // Native: the gateways stopped, the same workload replicated by native subscriptions of the secrets table,
        // one per follower, into databases of the same follower server.
        foreach (var gateway in _steadyGateways)
        {
            _owned.Remove(gateway);
            await gateway.DisposeAsync();
        }

        _steadyGateways.Clear();
        Say($"P10: native logical replication of the same workload into {w.Followers} databases");
        var natives = await StartSteadyNativesAsync(w, cancellationToken);
        var native = await RunSteadyAsync(w, w.Rate, w.Duration, natives.Databases, natives.Expected, cancellationToken);
        return SteadyFigures(w, runs, native, edge);
    }

    private async Task<(string[] Followers, string[] Roles)> StartSteadyAsync(SteadyWorkload w, CancellationToken cancellationToken)
    {
        await StartSteadyDeploymentAsync(w, edge: true, statements: false, cancellationToken);
        var (followers, roles, _) = await RegisterSteadyFollowersAsync(w, recordAgentUrls: true, 3, cancellationToken);

        Say($"P10: initial replicate of {w.Followers} followers");
        for (var f = 0; f < w.Followers; f++)
        {
            var (db, target) = (followers[f], Enumerable.Range(0, w.Variables).Count(i => w.Granted(f, i)));
            await UntilAsync(async () => await BenchData.CountAsync(db, CountSecrets, cancellationToken) == target, "P10 initial replicate",
                TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return (followers, roles);
    }

    /// <summary>
    /// The steady workload's leader and follower servers (commit timestamps on), its variables, grants and values, and
    /// its first gateway. <paramref name="edge"/>: P10's edge client's set is granted every variable too.
    /// <paramref name="statements"/>: the leader preloads pg_stat_statements (installed with this machine's
    /// PostgreSQL), so that runs count leader statements per commit.
    /// </summary>
    private async Task StartSteadyDeploymentAsync(SteadyWorkload w, bool edge, bool statements, CancellationToken cancellationToken)
    {
        var figure = _steadyTag.ToUpperInvariant();
        Say($"{figure}: leader and follower servers of its own (commit timestamps on), {w.Variables:N0} variables, {w.Followers} followers granted ~{w.Share:P0} each");
        // P8's leader is loaded with a million variables, then registers twenty followers four at a time. At the
        // clusters' 1 GB backstop, the WAL written meanwhile (the load; autovacuum of the loaded tables; a relay rebuild,
        // the load having cost the relay its slot) invalidated the slots of followers still copying, table sync slots
        // among them, which PostgreSQL does not resume. Sized for such a leader, as an operator would size it.
        var clusters = await Task.WhenAll(
            StartLeaderClusterAsync($"bench-{_steadyTag}-leader", cancellationToken, w.Followers, statements, maxSlotWalKeep: "16GB"),
            PostgresCluster.StartAsync(new ClusterOptions
            {
                Name = $"bench-{_steadyTag}-followers",
                Durable = true,
                Settings = new Dictionary<string, string>
                {
                    ["track_commit_timestamp"] = "on",
                    // One apply worker per gateway follower and per native subscriber at once, and (P8) a table sync
                    // worker per native subscriber during its initial copy.
                    ["max_logical_replication_workers"] = Math.Max(40, (3 * w.Followers) + 8).ToString(CultureInfo.InvariantCulture),
                    ["max_worker_processes"] = Math.Max(60, (3 * w.Followers) + 28).ToString(CultureInfo.InvariantCulture),
                    // A subscriber tracks each subscription's and each table sync's replication origin in a slot of its
                    // own: at 20 followers, 20 gateway followers' subscriptions, 20 native ones and their table syncs.
                    ["max_replication_slots"] = Math.Max(60, (3 * w.Followers) + 10).ToString(CultureInfo.InvariantCulture),
                },
            }, cancellationToken));
        _owned.AddRange(clusters);
        var steadyLeaderCluster = clusters[0];
        _steadyFollowers = clusters[1];
        var leader = steadyLeaderCluster.ConnectionString(await steadyLeaderCluster.CreateDatabaseAsync("conjur", cancellationToken));
        // The bench's own statements on P8's million variables (the COPY ending in the capture's statement triggers,
        // the vacuum, follower init granting a tenth of them) take longer than the default 30 s; the gateways get the
        // plain connection string.
        _steadyLeader = new NpgsqlConnectionStringBuilder(leader) { ApplicationName = BenchApplicationName, CommandTimeout = 1800 }.ConnectionString;
        _steadyLeaderSource = NpgsqlDataSource.Create(_steadyLeader);
        _owned.Add(_steadyLeaderSource);
        _steadyStatements = statements;
        if (statements)
        {
            await BenchData.ExecuteAsync(_steadyLeader, "CREATE EXTENSION pg_stat_statements", cancellationToken);
        }

        await new LeaderSetup(logger).RunAsync(_steadyLeader, new SetupOptions { DataKey = _crypto }, cancellationToken);
        await BenchData.ExecuteAsync(_steadyLeader, $"CREATE PUBLICATION bench_{_steadyTag}_native FOR TABLE secrets", cancellationToken);
        var hosts = Enumerable.Range(0, w.Followers).Select(f => (SteadySet(f), SteadyFollower(f)));
        await new PolicyLoader(logger).LoadAsync(_steadyLeaderSource, new PolicyLoadRequest
        {
            PolicyText = BenchData.Policy(edge ? [.. hosts, ("p10edge", SteadyEdgeHost)] : hosts),
            FileName = $"{_steadyTag}.yml",
            DataKey = _crypto,
        }, cancellationToken);
        Say($"{figure}: {w.Variables:N0} variables, their grants and values, by COPY");
        await BenchData.CreateVariablesAsync(_steadyLeaderSource, SteadyPrefix, w.Variables,
            i => edge ? w.GrantedTo(i).Select(SteadySet).Append("p10edge") : w.GrantedTo(i).Select(SteadySet), cancellationToken);
        await BenchData.InsertValuesAsync(_steadyLeaderSource, SteadyPrefix, w.Variables, _crypto, cancellationToken);
        await BenchData.ExecuteAsync(_steadyLeader, "VACUUM (ANALYZE)", cancellationToken);

        // The gateways connect without the bench's application_name.
        _steadyGatewayEnvironment["PARTIALREPLICA_LEADER"] = leader;
        _steadyGatewayEnvironment[GatewayKey.EnvironmentVariable] = GatewayKey.GenerateBase64();
        _steadyGatewayEnvironment["CONJUR_DATA_KEY"] = DataKeyBase64;
        await StartSteadyGatewayAsync(cancellationToken);
    }

    /// <summary>
    /// Registers the steady workload's followers, each with its database and agent; with <paramref name="recordAgentUrls"/>
    /// the agents' URLs are recorded too (the gateway starts their reconciles), otherwise they are returned unrecorded.
    /// <paramref name="atOnce"/> are set up at a time.
    /// </summary>
    private async Task<(string[] Followers, string[] Roles, string[] AgentUrls)> RegisterSteadyFollowersAsync(
        SteadyWorkload w, bool recordAgentUrls, int atOnce, CancellationToken cancellationToken)
    {
        Say($"{_steadyTag.ToUpperInvariant()}: registering {w.Followers} followers (follower init copies their other tables), each with its agent");

        // Followers are set up a few at a time (P10 three, P8 four), each as a deployment does it: a database registered
        // by follower init (its other tables copied), then its agent, ready, then init again with the agent's URL. (An
        // agent started before its database had the schema, twelve inits copying at once, gave up waiting on a loaded machine.)
        var followers = new string[w.Followers];
        var roles = new string[w.Followers];
        var agentUrls = new string[w.Followers];
        using var slots = new SemaphoreSlim(atOnce);
        await Task.WhenAll(Enumerable.Range(0, w.Followers).Select(async f =>
        {
            await slots.WaitAsync(cancellationToken);
            try
            {
                followers[f] = _steadyFollowers.ConnectionString(await _steadyFollowers.CreateDatabaseAsync("follower", cancellationToken));
                await using var followerSource = NpgsqlDataSource.Create(followers[f]);
                var init = await new FollowerInit(logger).RunAsync(_steadyLeader, followerSource,
                    new FollowerInitOptions { Name = SteadyFollower(f), DataKey = _crypto }, cancellationToken);
                roles[f] = init.RoleId;
                var agent = ChildHost.Create($"agent {SteadyFollower(f)}", ["serve", "follower", "--name", SteadyFollower(f)], new Dictionary<string, string>
                {
                    ["PARTIALREPLICA_FOLLOWER_DB"] = followers[f],
                    ["PARTIALREPLICA_GATEWAY_URL"] = _steadyGateways[0].Url,
                });
                lock (_owned)
                {
                    _owned.Add(agent);
                }

                await agent.StartListeningAsync(cancellationToken);
                await agent.WaitReadyAsync(cancellationToken);
                agentUrls[f] = agent.Url;
                if (recordAgentUrls)
                {
                    await new FollowerInit(logger).RunAsync(_steadyLeader, followerSource,
                        new FollowerInitOptions { Name = SteadyFollower(f), AgentUrl = agent.Url, DataKey = _crypto }, cancellationToken);
                }
            }
            finally
            {
                slots.Release();
            }
        }));

        return (followers, roles, agentUrls);
    }

    private async Task StartSteadyGatewayAsync(CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(_steadyGatewayEnvironment)
        {
            ["PARTIALREPLICA_GATEWAY_ID"] = SteadyGatewayId(_steadyGateways.Count),
        };
        var gateway = ChildHost.Create($"gateway {environment["PARTIALREPLICA_GATEWAY_ID"]}", ["serve", "gateway"], environment);
        _owned.Add(gateway);
        _steadyGateways.Add(gateway);
        await gateway.StartAsync(cancellationToken);
    }

    // Rendezvous hashing over 12 followers is lumpy by chance: ids gateway-1, -2, -3 would split them 7/3/2, and the
    // busiest gateway would bound the run. These ids split the P10 followers 6/6 and 4/4/4 (and --quick's 2/2), so P10
    // measures what a gateway adds rather than the hash's luck; the split is printed before each run.
    private static readonly string[] SteadyGatewayIds = ["gateway-1", "gateway-6", "gateway-8"];

    private static string SteadyGatewayId(int index) =>
        index < SteadyGatewayIds.Length ? SteadyGatewayIds[index] : string.Create(CultureInfo.InvariantCulture, $"gateway-{index + 10}");

    /// <summary>
    /// Waits until the leader lists exactly the started gateways as live and every follower is served by the one
    /// rendezvous hashing gives it, so a run measures the gateways it names and not a handover.
    /// </summary>
    private async Task AwaitSteadyAssignmentAsync(SteadyWorkload w, CancellationToken cancellationToken)
    {
        var ids = Enumerable.Range(0, _steadyGateways.Count).Select(SteadyGatewayId).ToList();
        var names = Enumerable.Range(0, w.Followers).Select(SteadyFollower).ToList();
        var wanted = Rendezvous.Assign(names, ids);
        Say($"P10: followers per gateway: {string.Join(", ", ids.Select(id => $"{id} {wanted.Values.Count(v => v == id)}"))}");
        await UntilAsync(async () =>
        {
            await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
            await using var live = new NpgsqlCommand("SELECT id FROM partial_replica.gateways WHERE lease_until > clock_timestamp()", connection);
            var liveIds = new HashSet<string>(StringComparer.Ordinal);
            await using (var reader = await live.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    liveIds.Add(reader.GetString(0));
                }
            }

            if (!liveIds.SetEquals(ids))
            {
                return false;
            }

            await using var served = new NpgsqlCommand("SELECT follower, gateway FROM partial_replica.delivery WHERE follower = ANY($1)", connection)
            {
                Parameters = { new() { Value = names.ToArray() } },
            };
            var count = 0;
            await using var rows = await served.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                if (rows.IsDBNull(1) || wanted[rows.GetString(0)] != rows.GetString(1))
                {
                    return false;
                }

                count++;
            }

            return count == names.Count;
        }, "P10 followers served by their rendezvous gateways", TimeSpan.FromMilliseconds(100), cancellationToken);
    }

    /// <summary>Native subscribers of the secrets table, one per follower, streaming (a marker row reached each).</summary>
    private async Task<(string[] Databases, long[] Expected)> StartSteadyNativesAsync(SteadyWorkload w, CancellationToken cancellationToken)
    {
        var leader = new NpgsqlConnectionStringBuilder(_steadyLeader);
        var natives = new string[w.Followers];
        for (var f = 0; f < w.Followers; f++)
        {
            natives[f] = _steadyFollowers.ConnectionString(await _steadyFollowers.CreateDatabaseAsync("native", cancellationToken));
            await using (var source = NpgsqlDataSource.Create(natives[f]))
            {
                await new MigrationRunner(logger).MigrateAsync(source, DatabaseRole.Follower, cancellationToken);
            }

            // An applied row's time: the apply worker commits with the leader's commit timestamp (its replication
            // origin's), so the subscriber's own commit timestamps cannot tell when a row arrived. A row trigger the
            // apply worker fires (ENABLE ALWAYS; names qualified, the worker runs with an empty search_path) records clock_timestamp() instead: one row per transaction here, so
            // that is the apply transaction's end, as a commit timestamp is, less its commit record.
            await BenchData.ExecuteAsync(natives[f], """
                CREATE TABLE public.bench_applied (resource_id text NOT NULL, version int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
                CREATE FUNCTION public.bench_applied() RETURNS trigger LANGUAGE plpgsql AS
                  $$BEGIN INSERT INTO public.bench_applied (resource_id, version) VALUES (NEW.resource_id, NEW.version); RETURN NULL; END$$;
                CREATE TRIGGER bench_applied AFTER INSERT ON secrets FOR EACH ROW EXECUTE FUNCTION public.bench_applied();
                ALTER TABLE secrets ENABLE ALWAYS TRIGGER bench_applied;
                """, cancellationToken);

            await BenchData.ExecuteAsync(natives[f],
                string.Create(CultureInfo.InvariantCulture, $"CREATE SUBSCRIPTION bench_p10_native_{f} CONNECTION ") +
                SqlIdentifier.Literal($"host=127.0.0.1 port={leader.Port} dbname={leader.Database} user={leader.Username} password={leader.Password}") +
                " PUBLICATION bench_p10_native WITH (copy_data = false)", cancellationToken);
        }

        await InsertSteadyAsync(BenchData.VariableId(SteadyPrefix, 0), cancellationToken);
        foreach (var native in natives)
        {
            await UntilAsync(async () => await BenchData.CountAsync(native, CountSecrets, cancellationToken) == 1, "P10 native streaming",
                TimeSpan.FromMilliseconds(20), cancellationToken);
        }

        // A native subscriber receives every commit; its expected count grows by every commit, whatever the grants.
        return (natives, Enumerable.Repeat(1L, w.Followers).ToArray());
    }

    private async Task InsertSteadyAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", connection);
        insert.Parameters.Add(new NpgsqlParameter { Value = id });
        insert.Parameters.Add(new NpgsqlParameter { Value = _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), id) });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>One commit of a run: its variable and the version it created.</summary>
    private readonly record struct SteadyCommit(int Index, int Version);

    /// <summary>What one run measured (see the remarks on this class).</summary>
    private sealed record SteadyRun(
        int Commits, int Concerned, double CommittedPerSecond, double DeliveredPerSecond, int Backlog, double P50, double P99,
        double GatewayCpuMsPerCommit, double LeaderTransactionsPerCommit)
    {
        /// <summary>Deliveries: (commit, target granted its variable) pairs; each commit counted at every target granted it.</summary>
        public int Deliveries { get; init; }

        /// <summary>Leader statements per commit less the writers' own (pg_stat_statements, top level), where the leader runs it.</summary>
        public double? LeaderStatementsPerCommit { get; init; }
    }

    /// <summary>
    /// One open-loop run into <paramref name="targets"/>: native targets (every commit reaches every target) when
    /// <paramref name="expected"/> counts start at the native marker, gateway followers otherwise. Waits until every
    /// target holds every row it must, then reads the commit timestamps. <paramref name="expected"/> is advanced, for
    /// every follower it counts: P8 passes all its followers' counts and serves only the first <paramref name="targets"/>.
    /// </summary>
    private async Task<SteadyRun> RunSteadyAsync(
        SteadyWorkload w, double rate, TimeSpan duration, string[] targets, long[] expected, CancellationToken cancellationToken)
    {
        var native = _steadyGateways.Count == 0;
        var due = (int)Math.Ceiling(rate * duration.TotalSeconds);
        var indexes = Enumerable.Range(0, due).Select(_ => Random.Shared.Next(w.Variables)).ToArray();
        var ids = indexes.Select(i => BenchData.VariableId(SteadyPrefix, i)).ToArray();
        // Values are encrypted before the clock starts.
        var values = ids.Select(id => _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), id)).ToArray();
        var made = new SteadyCommit?[due];

        var cpuBefore = _steadyGateways.Sum(g => g.CpuMilliseconds());
        var transactionsBefore = await LeaderTransactionsAsync(cancellationToken);
        var statementsBefore = _steadyStatements ? await LeaderStatementsAsync(cancellationToken) : 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, w.Writers).Select(async writer =>
        {
            await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
            await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2) RETURNING version", connection);
            var id = new NpgsqlParameter<string> { TypedValue = "" };
            var value = new NpgsqlParameter<byte[]> { TypedValue = [] };
            insert.Parameters.Add(id);
            insert.Parameters.Add(value);
            await insert.PrepareAsync(cancellationToken);
            for (var k = writer; k < due; k += w.Writers)
            {
                var at = TimeSpan.FromSeconds(k / rate);
                if (at >= duration || clock.Elapsed >= duration)
                {
                    break;
                }

                if (at - clock.Elapsed is { Ticks: > 0 } wait)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                id.TypedValue = ids[k];
                value.TypedValue = values[k];
                made[k] = new SteadyCommit(indexes[k], (int)(await insert.ExecuteScalarAsync(cancellationToken))!);
            }
        }));

        var commits = made.Where(c => c is not null).Select(c => c!.Value).ToArray();
        for (var f = 0; f < expected.Length; f++)
        {
            var target = f;
            expected[f] += native ? commits.Length : commits.Count(c => w.Granted(target, c.Index));
        }

        // Each target is probed for its last row by primary key, and only once it holds that, counted: counting every
        // follower's whole table every 100 ms (P8: twenty of 100,000 rows) took the cores that deliver the backlog.
        SteadyCommit? LastFor(int target) => commits.Where(c => native || w.Granted(target, c.Index)).Select(c => (SteadyCommit?)c).LastOrDefault();
        var probes = await Task.WhenAll(targets.Select(t => OpenAsync(t, cancellationToken)));
        try
        {
            await Task.WhenAll(Enumerable.Range(0, targets.Length).Select(f =>
            {
                var last = LastFor(f);
                return UntilAsync(async () => (last is not { } l || await HoldsVersionOnAsync(probes[f], l, cancellationToken))
                    && await CountOnAsync(probes[f], cancellationToken) == expected[f], "steady drain", TimeSpan.FromMilliseconds(100), cancellationToken);
            }));
        }
        finally
        {
            foreach (var probe in probes)
            {
                await probe.DisposeAsync();
            }
        }

        var cpu = _steadyGateways.Sum(g => g.CpuMilliseconds()) - cpuBefore;
        var transactions = await LeaderTransactionsAsync(cancellationToken) - transactionsBefore;
        var statements = _steadyStatements ? await LeaderStatementsAsync(cancellationToken) - statementsBefore : 0;

        // Commit timestamps: the leader's, then each target's for the rows it must hold.
        var leaderAt = await CommitTimestampsAsync(_steadyLeader, commits, native: false, cancellationToken);
        var lastVisible = new DateTime[commits.Length];
        var deliveries = 0;
        for (var f = 0; f < targets.Length; f++)
        {
            var target = f;
            var mine = Enumerable.Range(0, commits.Length).Where(c => w.Granted(target, commits[c].Index)).ToArray();
            deliveries += mine.Length;
            var at = await CommitTimestampsAsync(targets[f], mine.Select(c => commits[c]).ToArray(), native, cancellationToken);
            for (var j = 0; j < mine.Length; j++)
            {
                if (at[j] > lastVisible[mine[j]])
                {
                    lastVisible[mine[j]] = at[j];
                }
            }
        }

        var concerned = Enumerable.Range(0, commits.Length).Where(c => lastVisible[c] != default).ToArray();
        if (commits.Length == 0 || concerned.Length == 0)
        {
            throw new PartialReplicaException("P10: a run made no commit that a follower is granted; no figures are reported.");
        }

        var latencies = concerned.Select(c => (lastVisible[c] - leaderAt[c]).TotalMilliseconds).ToList();
        var first = leaderAt.Min();
        var lastCommit = leaderAt.Max();
        // Every commit is delivered once it is on every follower granted its variable (at once for those granted to none).
        var lastDelivery = new[] { lastCommit, concerned.Max(c => lastVisible[c]) }.Max();
        return new SteadyRun(
            commits.Length,
            concerned.Length,
            Math.Round(commits.Length / Math.Max((lastCommit - first).TotalSeconds, 1e-3), 1),
            Math.Round(commits.Length / Math.Max((lastDelivery - first).TotalSeconds, 1e-3), 1),
            concerned.Count(c => lastVisible[c] > lastCommit),
            Percentile(latencies, 50),
            Percentile(latencies, 99),
            Math.Round(cpu / commits.Length, 3),
            Math.Round((double)(transactions - commits.Length) / commits.Length, 2))
        {
            Deliveries = deliveries,
            // The leader's statements and the writers' one INSERT a commit are both counted by pg_stat_statements (top
            // level; the capture trigger's statements run inside the INSERT and are not counted on their own).
            LeaderStatementsPerCommit = _steadyStatements ? Math.Round((double)(statements - commits.Length) / commits.Length, 2) : null,
        };
    }

    /// <summary>Top-level statements run in the steady leader database so far (pg_stat_statements), the bench's own included.</summary>
    private async Task<long> LeaderStatementsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<bool> HoldsVersionOnAsync(NpgsqlConnection connection, SteadyCommit commit, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1 AND version = $2)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = BenchData.VariableId(SteadyPrefix, commit.Index) });
        command.Parameters.Add(new NpgsqlParameter { Value = commit.Version });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Committed transactions of the steady leader database so far (pg_stat_database).</summary>
    private async Task<long> LeaderTransactionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// When each commit's row became visible in <paramref name="database"/>: the commit timestamp of the transaction
    /// that wrote it, or on a native subscriber the time its apply recorded (see StartSteadyNativesAsync).
    /// </summary>
    private async Task<DateTime[]> CommitTimestampsAsync(string database, SteadyCommit[] commits, bool native, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(database, cancellationToken);
        await using var command = new NpgsqlCommand(native
            ? """
              SELECT w.n, a.at
                FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS w(id, version, n)
                JOIN bench_applied a ON a.resource_id = w.id AND a.version = w.version
              """
            : """
              SELECT w.n, pg_xact_commit_timestamp(s.xmin)
                FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS w(id, version, n)
                JOIN secrets s ON s.resource_id = w.id AND s.version = w.version
              """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = commits.Select(c => BenchData.VariableId(SteadyPrefix, c.Index)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = commits.Select(c => c.Version).ToArray() });
        var at = new DateTime[commits.Length];
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                at[reader.GetInt64(0) - 1] = reader.IsDBNull(1)
                    ? throw new PartialReplicaException("P10: a row has no commit timestamp (track_commit_timestamp off?).")
                    : reader.GetDateTime(1);
            }
        }

        if (Array.IndexOf(at, default) is var missing and >= 0)
        {
            throw new PartialReplicaException($"P10: {commits[missing]} is missing from a database that must hold it. No figures are reported.");
        }

        return at;
    }

    private IReadOnlyList<BenchFigure> SteadyFigures(SteadyWorkload w, List<SteadyRun> runs, SteadyRun native, EdgeSync edge)
    {
        var figures = new List<BenchFigure>();
        for (var g = 0; g < runs.Count; g++)
        {
            var r = runs[g];
            figures.Add(new BenchFigure(
                string.Create(CultureInfo.InvariantCulture, $"P10.{g + 1}"),
                string.Create(CultureInfo.InvariantCulture,
                    $"{g + 1} gateway(s), {w.Followers} followers, {w.Rate:N0} commits/s offered for {w.Duration.TotalSeconds:0.#} s: delivered commits/s; per-commit p50/p99 ms beside native"),
                r.DeliveredPerSecond, native.DeliveredPerSecond, "commits/s", "—", g == 0 ? "—" : "")
            {
                Details = SteadyDetails(r, native),
            });
        }

        var scale = runs[^1].DeliveredPerSecond / runs[0].DeliveredPerSecond;
        figures.Add(new BenchFigure("P10x", $"throughput, {runs.Count} gateways / 1 gateway", Math.Round(scale, 2), null, "×", "—", "≥ 2.5× when the leader is not the bound"));
        if (edge.DeltaMs is { } delta)
        {
            figures.Add(new BenchFigure("P10d", $"edge sync of {w.Variables:N0} granted variables, no change since the last: delta pull (median of {edge.Samples})",
                delta, null, "ms", "—", "≤ 10 ms"));
        }

        figures.Add(new BenchFigure("P10f", $"edge sync of {w.Variables:N0} granted variables: full re-pull, pages of 10,000 (median of {edge.FullSamples})",
            edge.FullMs, null, "ms", "—", "—"));
        return figures;
    }

    private static Dictionary<string, double> SteadyDetails(SteadyRun r, SteadyRun native) => new()
    {
        ["commits"] = r.Commits,
        ["concerned"] = r.Concerned,
        ["committedPerSecond"] = r.CommittedPerSecond,
        ["backlog"] = r.Backlog,
        ["p50Ms"] = r.P50,
        ["p99Ms"] = r.P99,
        ["gatewayCpuMsPerCommit"] = r.GatewayCpuMsPerCommit,
        ["leaderTransactionsPerCommit"] = r.LeaderTransactionsPerCommit,
        ["nativeCommittedPerSecond"] = native.CommittedPerSecond,
        ["nativeBacklog"] = native.Backlog,
        ["nativeP50Ms"] = native.P50,
        ["nativeP99Ms"] = native.P99,
    };
}
