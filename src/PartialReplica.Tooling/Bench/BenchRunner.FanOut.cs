using System.Globalization;
using Npgsql;
using PartialReplica.Enrollment;
using PartialReplica.Schema;

namespace PartialReplica.Tooling.Bench;

/// <summary>
/// P8 (issue 25), fan-out: the steady workload (<see cref="SteadyWorkload"/>, <see cref="BenchSizes.P8"/>) on a leader
/// and a follower server of their own, one gateway, every follower an agent and a database of the follower server.
/// </summary>
/// <remarks>
/// <para>Initial sync: every follower is registered (follower init copies its other tables) and its agent started and
/// ready first; then native logical replication copies the same rows into as many new databases of the follower
/// server, all subscriptions created at once, each of its own table on the leader holding just that follower's granted
/// rows (so native moves the same rows and bytes), timed from the first <c>CREATE SUBSCRIPTION</c> until every
/// database holds its rows; those subscriptions and tables are then dropped. Then the gateway's: every agent's URL recorded at
/// once (<c>follower init</c> again, as P1 does for one), timed from the first of those commits (commit timestamps)
/// until every follower holds its granted set; every follower is then verified exact.</para>
/// <para>Steady state at a quarter, half and all of the followers (at least two): the followers beyond those served
/// have their agent URL cleared (their registrations, subscriptions and agents stay, so the leader's walsenders and
/// the follower server are the same in every step; a gateway runs no worker for a follower without an agent URL) and
/// recorded again, as <c>follower init --agent-url</c> does, for the next step; those catch up on the commits they
/// missed before it starts. The followers are served incrementally after the initial sync of all, rather than
/// registered incrementally, because registering one at 1,000,000 variables copies its other tables and reconciles
/// it again. Each step is P10's run (warm-up, then the measured run), its latency to the last of the served followers
/// granted each commit. Cost per commit is the gateway's CPU and the leader's transactions and statements
/// (pg_stat_statements, preloaded on this leader) per commit; per delivery divides by the (commit, served follower
/// granted it) pairs, which grow with the followers served (each is granted about a tenth of the variables).</para>
/// <para>At all followers: the gateway's peak RSS (its whole life: the initial sync and every step) and the leader
/// server's connections, sampled every 250 ms during the measured run: walsenders and client backends of any database
/// (the relay's included), the bench's own (application_name <see cref="BenchApplicationName"/>) excluded.</para>
/// </remarks>
internal sealed partial class BenchRunner
{
    private static readonly TimeSpan FanOutProbe = TimeSpan.FromMilliseconds(50);

    /// <summary>The follower counts P8's steady runs serve: a quarter, a half and all of them, at least two.</summary>
    private static int[] FanOutSteps(int followers) =>
        [.. new[] { followers / 4, followers / 2, followers }.Where(n => n >= 2).Distinct()];

    /// <summary>The peak of the leader server's connections held by the deployment during a run.</summary>
    private sealed record LeaderConnections(int Total, int Walsenders, int ClientBackends);

    /// <summary>A follower's granted set: its size and its last variable in key order (the last a reconcile writes).</summary>
    private sealed record GrantedSet(long Rows, string LastId);

    private async Task<IReadOnlyList<BenchFigure>> MeasureFanOutAsync(CancellationToken cancellationToken)
    {
        var w = sizes.P8;
        _steadyTag = "p8";
        _steadyGateways.Clear();
        await StartSteadyDeploymentAsync(w, edge: false, statements: true, cancellationToken);
        var (followers, roles, agentUrls) = await RegisterSteadyFollowersAsync(w, recordAgentUrls: false, 4, cancellationToken);

        var sets = new GrantedSet[w.Followers];
        for (var f = 0; f < w.Followers; f++)
        {
            var (rows, last) = (0L, -1);
            for (var i = 0; i < w.Variables; i++)
            {
                if (w.Granted(f, i))
                {
                    (rows, last) = (rows + 1, i);
                }
            }

            sets[f] = new GrantedSet(rows, last < 0 ? "" : BenchData.VariableId(SteadyPrefix, last));
        }

        var native = await MeasureFanOutNativeSyncAsync(w, sets, cancellationToken);
        var gateway = await MeasureFanOutGatewaySyncAsync(w, followers, agentUrls, sets, cancellationToken);
        for (var f = 0; f < w.Followers; f++)
        {
            await VerifyAsync($"P8 follower {f} after the initial sync", followers[f], roles[f], cancellationToken, _steadyLeaderSource);
        }

        var expected = sets.Select(s => s.Rows).ToArray();
        var steps = FanOutSteps(w.Followers);
        await UnserveAsync(Enumerable.Range(steps[0], w.Followers - steps[0]), cancellationToken);
        var served = steps[0];
        var runs = new List<(int Followers, SteadyRun Run)>();
        LeaderConnections? connections = null;
        foreach (var n in steps)
        {
            if (n > served)
            {
                Say($"P8: serving followers {served}..{n - 1} again; they catch up on the commits they missed");
                await ServeAsync(followers, agentUrls, served, n, cancellationToken);
                for (var f = served; f < n; f++)
                {
                    var (db, target) = (followers[f], expected[f]);
                    await UntilAsync(async () => await BenchData.CountAsync(db, CountSecrets, cancellationToken) == target, "P8 catch-up",
                        TimeSpan.FromMilliseconds(100), cancellationToken);
                }

                served = n;
            }

            var targets = followers[..n];
            Say($"P8: {n} of {w.Followers} followers served: warm-up {w.WarmUp.TotalSeconds:0.#} s at {w.Rate / 5:N0} commits/s");
            await RunSteadyAsync(w, w.Rate / 5, w.WarmUp, targets, expected, cancellationToken);
            Say($"P8: {n} followers: {w.Rate:N0} commits/s offered for {w.Duration.TotalSeconds:0.#} s");
            if (n == w.Followers)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var sampling = SampleLeaderConnectionsAsync(stop.Token);
                try
                {
                    runs.Add((n, await RunSteadyAsync(w, w.Rate, w.Duration, targets, expected, cancellationToken)));
                }
                finally
                {
                    await stop.CancelAsync();
                }

                connections = await sampling;
            }
            else
            {
                runs.Add((n, await RunSteadyAsync(w, w.Rate, w.Duration, targets, expected, cancellationToken)));
            }
        }

        var rss = _steadyGateways[0].PeakRssMegabytes();
        for (var f = 0; f < w.Followers; f++)
        {
            await VerifyAsync($"P8 follower {f}", followers[f], roles[f], cancellationToken, _steadyLeaderSource);
        }

        return FanOutFigures(w, (gateway, native, sets.Sum(s => s.Rows)), runs, rss, connections!);
    }

    /// <summary>
    /// Native initial sync of the same rows: on the leader a table per follower holding its granted rows (the
    /// follower's <c>secrets</c> shape) and a publication of it; on the follower server a new database per follower
    /// with that table, subscribing with the initial copy, all at once. Timed from the first subscription until every
    /// database holds all its rows; the subscriptions (and their slots on the leader) are dropped after.
    /// </summary>
    private async Task<double> MeasureFanOutNativeSyncAsync(SteadyWorkload w, GrantedSet[] sets, CancellationToken cancellationToken)
    {
        Say($"P8: native: a table per follower on the leader holding its granted rows ({sets.Sum(s => s.Rows):N0} in all)");
        var natives = new string[w.Followers];
        for (var f = 0; f < w.Followers; f++)
        {
            var table = FanOutNativeTable(f);
            var carrier = SqlIdentifier.Literal($"default:group:conjur/replication-sets/{SteadySet(f)}/replicated-data");
            await BenchData.ExecuteAsync(_steadyLeader, $"""
                {FanOutNativeTableSql(table)}
                INSERT INTO {table} (resource_id, version, value, expires_at)
                  SELECT s.resource_id, s.version, s.value, s.expires_at FROM secrets s
                   WHERE EXISTS (SELECT 1 FROM permissions p WHERE p.resource_id = s.resource_id AND p.privilege = 'execute' AND p.role_id = {carrier});
                CREATE PUBLICATION {table} FOR TABLE {table};
                """, cancellationToken);
            var rows = await BenchData.CountAsync(_steadyLeader, $"SELECT count(*) FROM {table}", cancellationToken);
            if (rows != sets[f].Rows)
            {
                throw new PartialReplicaException($"P8: native table {table} holds {rows} rows, follower {f} is granted {sets[f].Rows}. No figures are reported.");
            }

            natives[f] = _steadyFollowers.ConnectionString(await _steadyFollowers.CreateDatabaseAsync("p8native", cancellationToken));
            await BenchData.ExecuteAsync(natives[f], FanOutNativeTableSql(table), cancellationToken);
        }

        await BenchData.ExecuteAsync(_steadyLeader,
            "VACUUM (ANALYZE) " + string.Join(", ", Enumerable.Range(0, w.Followers).Select(FanOutNativeTable)), cancellationToken);
        await UntilAsync(() => LeaderQuietAsync(_steadyLeader, cancellationToken), "leader without running transactions", cancellationToken);

        Say($"P8: native initial sync: {w.Followers} subscriptions at once");
        var leader = new NpgsqlConnectionStringBuilder(_steadyLeader);
        var conninfo = SqlIdentifier.Literal($"host=127.0.0.1 port={leader.Port} dbname={leader.Database} user={leader.Username} password={leader.Password}");
        var started = DateTime.UtcNow;
        var done = AllDoneAsync(Enumerable.Range(0, w.Followers).Select(f =>
            UntilAsync(() => FanOutDoneAsync(natives[f], FanOutNativeTable(f), sets[f], cancellationToken), "P8 native initial sync", FanOutProbe, cancellationToken)));
        await Task.WhenAll(Enumerable.Range(0, w.Followers).Select(f => BenchData.ExecuteAsync(natives[f],
            $"CREATE SUBSCRIPTION {FanOutNativeTable(f)} CONNECTION {conninfo} PUBLICATION {FanOutNativeTable(f)} WITH (copy_data = true)", cancellationToken)));
        var seconds = (await done - started).TotalSeconds;

        // The copies' tables go too, so that the gateway's sync and the steady runs meet the leader P8 describes.
        for (var f = 0; f < w.Followers; f++)
        {
            await UnsubscribeNativeAsync(natives[f], FanOutNativeTable(f), cancellationToken);
            await BenchData.ExecuteAsync(_steadyLeader, $"DROP PUBLICATION {FanOutNativeTable(f)}; DROP TABLE {FanOutNativeTable(f)}", cancellationToken);
        }

        return seconds;
    }

    private static string FanOutNativeTable(int f) => string.Create(CultureInfo.InvariantCulture, $"bench_p8_native_{f}");

    // The shape of a follower's secrets table (the common baseline's), for the native copy of a follower's rows.
    private static string FanOutNativeTableSql(string table) => $"""
        CREATE TABLE {table} (
            resource_id text NOT NULL,
            version     integer NOT NULL,
            value       bytea NOT NULL,
            expires_at  timestamp without time zone,
            PRIMARY KEY (resource_id, version));
        CREATE INDEX ON {table} (resource_id);
        """;

    /// <summary>
    /// The gateway's initial sync of every follower at once: their agents' URLs recorded together, timed from the first
    /// of those commits until every follower holds its granted set.
    /// </summary>
    private async Task<double> MeasureFanOutGatewaySyncAsync(
        SteadyWorkload w, string[] followers, string[] agentUrls, GrantedSet[] sets, CancellationToken cancellationToken)
    {
        Say($"P8: gateway initial sync of {w.Followers} followers at once ({sets.Sum(s => s.Rows):N0} rows)");
        // The registrations wrote the followers' grant rows: vacuumed and analysed now, not by autovacuum during the sync.
        await BenchData.ExecuteAsync(_steadyLeader, "VACUUM (ANALYZE) partial_replica.granted", cancellationToken);
        var done = AllDoneAsync(Enumerable.Range(0, w.Followers).Select(f =>
            UntilAsync(() => FanOutDoneAsync(followers[f], "secrets", sets[f], cancellationToken), "P8 gateway initial sync", FanOutProbe, cancellationToken)));
        await ServeAsync(followers, agentUrls, 0, w.Followers, cancellationToken);

        DateTime started;
        await using (var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken))
        await using (var command = new NpgsqlCommand(
                         "SELECT min(pg_xact_commit_timestamp(xmin)) FROM partial_replica.followers WHERE name = ANY($1)", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Range(0, w.Followers).Select(SteadyFollower).ToArray() });
            started = (DateTime)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        return (await done - started).TotalSeconds;
    }

    /// <summary>When every one of <paramref name="conditions"/> has held.</summary>
    private static async Task<DateTime> AllDoneAsync(IEnumerable<Task<TimeSpan>> conditions)
    {
        await Task.WhenAll(conditions);
        return DateTime.UtcNow;
    }

    /// <summary>Whether <paramref name="table"/> holds the whole set: first its last variable by primary key, then the count.</summary>
    private static async Task<bool> FanOutDoneAsync(string database, string table, GrantedSet set, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(database, cancellationToken);
        if (set.Rows > 0)
        {
            await using var holds = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM {table} WHERE resource_id = $1)", connection);
            holds.Parameters.Add(new NpgsqlParameter { Value = set.LastId });
            if (!(bool)(await holds.ExecuteScalarAsync(cancellationToken))!)
            {
                return false;
            }
        }

        await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await count.ExecuteScalarAsync(cancellationToken))! == set.Rows;
    }

    /// <summary>Records the agent URLs of followers <paramref name="from"/>..<paramref name="to"/> - 1, as <c>follower init --agent-url</c> does.</summary>
    private async Task ServeAsync(string[] followers, string[] agentUrls, int from, int to, CancellationToken cancellationToken) =>
        await Task.WhenAll(Enumerable.Range(from, to - from).Select(async f =>
        {
            await using var followerSource = NpgsqlDataSource.Create(followers[f]);
            await new FollowerInit(logger).RunAsync(_steadyLeader, followerSource,
                new FollowerInitOptions { Name = SteadyFollower(f), AgentUrl = agentUrls[f], DataKey = _crypto }, cancellationToken);
        }));

    /// <summary>Clears the agent URLs of <paramref name="followers"/>: the gateway stops serving them, nothing else changes.</summary>
    private async Task UnserveAsync(IEnumerable<int> followers, CancellationToken cancellationToken)
    {
        var names = followers.Select(SteadyFollower).ToArray();
        if (names.Length == 0)
        {
            return;
        }

        Say($"P8: followers {names[0]}..{names[^1]} not served (agent URL cleared)");
        await using var connection = await _steadyLeaderSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("UPDATE partial_replica.followers SET agent_url = NULL WHERE name = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = names });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The peak of the leader server's walsenders and client backends (any database, the bench's own excluded), sampled
    /// every 250 ms until <paramref name="stop"/>.
    /// </summary>
    private async Task<LeaderConnections> SampleLeaderConnectionsAsync(CancellationToken stop)
    {
        var peak = new LeaderConnections(0, 0, 0);
        await using var connection = await OpenAsync(_steadyLeader, stop);
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE backend_type = 'walsender')::int, count(*) FILTER (WHERE backend_type = 'client backend')::int
              FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND backend_type IN ('walsender', 'client backend') AND application_name IS DISTINCT FROM $1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = BenchApplicationName });
        while (true)
        {
            await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
            {
                await reader.ReadAsync(CancellationToken.None);
                var (walsenders, clients) = (reader.GetInt32(0), reader.GetInt32(1));
                if (walsenders + clients > peak.Total)
                {
                    peak = new LeaderConnections(walsenders + clients, walsenders, clients);
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return peak;
            }
        }
    }

    private List<BenchFigure> FanOutFigures(
        SteadyWorkload w, (double Gateway, double Native, long Rows) sync, List<(int Followers, SteadyRun Run)> runs, double rss, LeaderConnections connections)
    {
        var figures = new List<BenchFigure>();
        foreach (var (n, r) in runs)
        {
            figures.Add(new BenchFigure(
                string.Create(CultureInfo.InvariantCulture, $"P8.{n}"),
                $"{n} of {w.Followers} followers served, {w.Rate:N0} single-row commits/s offered for {w.Duration.TotalSeconds:0.#} s over random variables: per-commit p50/p99 ms to every follower granted it",
                r.P99, null, "ms", "p99 ≤ 500 ms", "p99 ≤ 100 ms")
            {
                GatewayP50 = r.P50,
                Details = FanOutDetails(r),
            });
        }

        var (first, last) = (runs[0], runs[^1]);
        if (first.Run.GatewayCpuMsPerCommit <= 0)
        {
            throw new PartialReplicaException($"P8: the gateway used no CPU in the run at {first.Followers} followers; no cost ratio is reported.");
        }

        var cost = Math.Round(last.Run.GatewayCpuMsPerCommit / first.Run.GatewayCpuMsPerCommit, 2);

        // The figure SPEC §6 names P8 (the initial sync, with the steady p99, cost ratio and RSS at all followers), then
        // each step's and the comparisons' lines.
        figures.Insert(0, new BenchFigure("P8", $"initial sync of {w.Followers} followers at once, {sync.Rows:N0} granted rows of {w.Variables:N0} variables; native: a table per follower, {w.Followers} subscriptions at once",
            Math.Round(sync.Gateway, 3), Math.Round(sync.Native, 3), "s", "≤ 3× native", "≤ 1.5× native")
        {
            SteadyP99Ms = last.Run.P99,
            CostRatio20To5 = cost,
            RssMb = Math.Round(rss, 1),
        });
        var details = new Dictionary<string, double>();
        void Compare(string measure, double? at, double? baseline)
        {
            // A ratio to nothing measured is left out (e.g. no leader transactions beyond the writers' at the first step).
            if (at is { } value && baseline is > 0)
            {
                details[measure] = Math.Round(value / baseline.Value, 2);
            }
        }

        Compare("gatewayCpuPerDelivery", PerDelivery(last.Run), PerDelivery(first.Run));
        Compare("leaderTransactionsPerCommit", last.Run.LeaderTransactionsPerCommit, first.Run.LeaderTransactionsPerCommit);
        Compare("leaderStatementsPerCommit", last.Run.LeaderStatementsPerCommit, first.Run.LeaderStatementsPerCommit);
        figures.Add(new BenchFigure("P8x", $"cost per commit, {last.Followers} followers / {first.Followers}: gateway CPU ms per commit",
            cost, null, "×", "≤ 1.2×", "≤ 1.2×")
        {
            Details = details,
        });
        figures.Add(new BenchFigure("P8m", $"gateway peak RSS at {w.Followers} followers (initial sync and steady runs)", Math.Round(rss, 1), null, "MB", "≤ 300 MB", "≤ 300 MB"));
        figures.Add(new BenchFigure("P8c", $"leader connections held at {w.Followers} followers (peak during the steady run; walsenders + client backends)",
            connections.Total, null, "connections", $"≤ 2/follower + constant ({2 * w.Followers} + c)", $"≤ 2/follower + constant ({2 * w.Followers} + c)")
        {
            Details = new Dictionary<string, double>
            {
                ["walsenders"] = connections.Walsenders,
                ["clientBackends"] = connections.ClientBackends,
                ["perFollower"] = Math.Round((double)connections.Total / w.Followers, 2),
            },
        });
        return figures;
    }

    private static double PerDelivery(SteadyRun r) => r.GatewayCpuMsPerCommit * r.Commits / Math.Max(r.Deliveries, 1);

    private static Dictionary<string, double> FanOutDetails(SteadyRun r)
    {
        var details = new Dictionary<string, double>
        {
            ["commits"] = r.Commits,
            ["concerned"] = r.Concerned,
            ["deliveriesPerCommit"] = Math.Round((double)r.Deliveries / r.Commits, 2),
            ["committedPerSecond"] = r.CommittedPerSecond,
            ["deliveredPerSecond"] = r.DeliveredPerSecond,
            ["backlog"] = r.Backlog,
            ["gatewayCpuMsPerCommit"] = r.GatewayCpuMsPerCommit,
            ["gatewayCpuMsPerDelivery"] = Math.Round(PerDelivery(r), 3),
            ["leaderTransactionsPerCommit"] = r.LeaderTransactionsPerCommit,
        };
        if (r.LeaderStatementsPerCommit is { } statements)
        {
            details["leaderStatementsPerCommit"] = statements;
        }

        return details;
    }
}
