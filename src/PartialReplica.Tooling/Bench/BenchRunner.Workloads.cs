using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using PartialReplica.Enrollment;
using PartialReplica.Grants;
using PartialReplica.Policies;
using PartialReplica.Schema;
using PartialReplica.Tooling.Processes;
using PartialReplica.Tooling.Samples;

namespace PartialReplica.Tooling.Bench;

/// <summary>The six workloads.</summary>
internal sealed partial class BenchRunner
{
    private const string CountSecrets = "SELECT count(*) FROM secrets";

    // P1's probe runs every 20 ms on both sides; see P1DoneAsync.
    private static readonly TimeSpan P1Probe = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// P1: native initial table sync of the secrets vs the gateway's full reconcile of a new follower, each measured
    /// <see cref="BenchSizes.P1Samples"/> times in alternating order (native first, then gateway first, ...); the medians
    /// are reported. This machine's speed drifts by a third within seconds (seen as the same code's gateway reconcile
    /// taking 1.2–1.9 s in consecutive samples), and one sample on each side, seconds apart, carried that drift into
    /// the ratio. Every sample's follower is new and empty, and its agent a new process; the gateway is the same.
    /// </summary>
    private async Task<(double Gateway, double Native, double[] GatewaySamples, double[] NativeSamples)> MeasureInitialReplicateAsync(
        CancellationToken cancellationToken)
    {
        Say($"P1: creating {sizes.P1Secrets:N0} variables granted to set p1, with values");
        await BenchData.CreateVariablesAsync(_leaderSource, "bench/p1", sizes.P1Secrets, _ => ["p1"], cancellationToken);
        await BenchData.InsertValuesAsync(_leaderSource, "bench/p1", sizes.P1Secrets, _crypto, cancellationToken);
        var rows = await BenchData.CountAsync(_leader, CountSecrets, cancellationToken);

        // Both sides copy from a settled leader: the bulk load vacuumed and analysed now, rather than by
        // autovacuum during one of the two measurements (seen as run-to-run noise of ~0.5 s on two cores).
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE)", cancellationToken);

        var gateway = new double[sizes.P1Samples];
        var native = new double[sizes.P1Samples];
        for (var sample = 0; sample < sizes.P1Samples; sample++)
        {
            var nativeFirst = sample % 2 == 0;
            if (nativeFirst)
            {
                native[sample] = await MeasureNativeSyncAsync(rows, sample, cancellationToken);
            }

            gateway[sample] = await MeasureGatewayReconcileAsync(rows, sample, cancellationToken);
            if (!nativeFirst)
            {
                native[sample] = await MeasureNativeSyncAsync(rows, sample, cancellationToken);
            }
        }

        return (Median(gateway), Median(native), gateway, native);
    }

    private static double Median(double[] samples)
    {
        var sorted = samples.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The follower host of P1's sample <paramref name="sample"/>; all are granted set p1, the first stays for P5.</summary>
    private static string P1Follower(int sample) =>
        sample == 0 ? "bench/p1" : string.Create(CultureInfo.InvariantCulture, $"bench/p1-{sample + 1}");

    /// <summary>
    /// One native sample: a new database subscribes with the initial copy (a subscription of its own name); timed until
    /// it holds every row. The clock starts once no other leader transaction holds a transaction id: creating a
    /// subscription's slots waits for those to end. See also the native server's settings in StartAsync.
    /// </summary>
    private async Task<double> MeasureNativeSyncAsync(long rows, int sample, CancellationToken cancellationToken)
    {
        Say($"P1: native initial table sync ({sample + 1} of {sizes.P1Samples})");
        var native = await AddNativeFollowerAsync(cancellationToken);
        await UntilAsync(() => LeaderQuietAsync(_leader, cancellationToken), "leader without running transactions", cancellationToken);
        var clock = Stopwatch.StartNew();
        var subscription = string.Create(CultureInfo.InvariantCulture, $"bench_p1_{sample + 1}");
        await SubscribeNativeAsync(native, subscription, copyData: true, cancellationToken);
        await UntilAsync(() => P1DoneAsync(native, rows, cancellationToken), "native P1 sync", P1Probe, cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        await UnsubscribeNativeAsync(native, subscription, cancellationToken);
        return seconds;
    }

    /// <summary>
    /// One gateway sample. The follower is registered and its other tables copied first, then its agent started and
    /// awaited ready (the order of a deployment: init creates the schema the agent writes to), so the gateway's
    /// reconcile is measured alone, as native's copy of the secrets is: the clock starts when the agent's URL is
    /// recorded (re-running init with it), which is when the gateway may start. The follower is verified exact; all
    /// but the first sample's are then removed (subscription, registration, agent), so that later workloads run with
    /// the followers they always had.
    /// </summary>
    private async Task<double> MeasureGatewayReconcileAsync(long rows, int sample, CancellationToken cancellationToken)
    {
        Say($"P1: gateway initial replicate ({sample + 1} of {sizes.P1Samples})");
        var name = P1Follower(sample);
        var follower = await CreateFollowerDatabaseAsync(cancellationToken);
        var init = await InitFollowerAsync(follower, name, null, cancellationToken);

        // The registration wrote the follower's grant rows: vacuumed and analysed now, not by autovacuum during the reconcile.
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE) partial_replica.granted", cancellationToken);
        var agent = await StartAgentAsync(follower, name, cancellationToken);
        await agent.WaitReadyAsync(cancellationToken);
        var done = CompletedAtAsync(() => P1DoneAsync(follower, rows, cancellationToken), "gateway P1 replicate", cancellationToken);
        await InitFollowerAsync(follower, name, agent.Url, cancellationToken);
        var seconds = (await done - await AgentRecordedAsync(init.Name, cancellationToken)).TotalSeconds;
        await VerifyAsync(sample == 0 ? "P1 follower" : $"P1 follower {sample + 1}", follower, init.RoleId, cancellationToken);
        if (sample > 0)
        {
            await RemoveGatewayFollowerAsync(follower, init, agent, cancellationToken);
        }

        return seconds;
    }

    /// <summary>Whether no other session on the leader is in a transaction that holds a transaction id.</summary>
    private static async Task<bool> LeaderQuietAsync(string leader, CancellationToken cancellationToken) =>
        await BenchData.CountAsync(leader,
            "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()", cancellationToken) == 0;

    /// <summary>
    /// Takes a follower out of the deployment: its subscription dropped (and with it its slot on the leader), its
    /// registration deleted (its delivery state and grant rows go with it, and the gateway stops its worker), its
    /// agent stopped.
    /// </summary>
    private async Task RemoveGatewayFollowerAsync(string follower, FollowerInitResult init, ChildHost agent, CancellationToken cancellationToken)
    {
        await BenchData.ExecuteAsync(follower, $"DROP SUBSCRIPTION {SqlIdentifier.Quote(init.SlotName)}", cancellationToken);
        await using (var connection = await _leaderSource.OpenConnectionAsync(cancellationToken))
        await using (var command = new NpgsqlCommand("DELETE FROM partial_replica.followers WHERE name = $1", connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = init.Name });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        _owned.Remove(agent);
        await agent.DisposeAsync();

        // Its grant rows went with the registration: vacuumed now, not by autovacuum during the next sample.
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE) partial_replica.granted", cancellationToken);
    }

    /// <summary>When <paramref name="condition"/> first held, probing every <see cref="P1Probe"/>.</summary>
    private static async Task<DateTime> CompletedAtAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        await UntilAsync(condition, what, P1Probe, cancellationToken);
        return DateTime.UtcNow;
    }

    /// <summary>
    /// When the follower's agent URL was recorded on the leader: the commit of the row version carrying it
    /// (the bench leader tracks commit timestamps; one machine, one clock).
    /// </summary>
    private async Task<DateTime> AgentRecordedAsync(string follower, CancellationToken cancellationToken)
    {
        await using var connection = await _leaderSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT pg_xact_commit_timestamp(xmin) FROM partial_replica.followers WHERE name = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = follower });
        return (DateTime)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Whether a P1 follower holds all <paramref name="rows"/>: first the last variable in key order, by
    /// primary key (the native copy is one transaction, the gateway's last page commits last), then the
    /// count. Counting 100,000 rows at every probe took a good part of a core from both sides.
    /// </summary>
    private async Task<bool> P1DoneAsync(string database, long rows, CancellationToken cancellationToken) =>
        await BenchData.HoldsAsync(database, BenchData.VariableId("bench/p1", sizes.P1Secrets - 1), cancellationToken)
        && await BenchData.CountAsync(database, CountSecrets, cancellationToken) == rows;

    /// <summary>P2: a burst of single-row commits from two writers; time from the last commit until every follower is exact.</summary>
    private async Task<((double Gateway, double Native) Figures, string[] Followers, string[] Natives)> MeasureBurstAsync(CancellationToken cancellationToken)
    {
        var m = sizes.P2Variables;
        // Follower i is granted a third of the variables, windows overlapping their neighbours'.
        bool Granted(int follower, int index) => index >= follower * m / 4 && index < (follower * m / 4) + (m / 3);
        Say($"P2: {m:N0} variables over sets s0..s2 (overlapping thirds), three followers");
        await BenchData.CreateVariablesAsync(_leaderSource, "bench/p2", m,
            i => Enumerable.Range(0, 3).Where(f => Granted(f, i)).Select(f => "s" + f.ToString(CultureInfo.InvariantCulture)), cancellationToken);
        await BenchData.InsertValuesAsync(_leaderSource, "bench/p2", m, _crypto, cancellationToken);
        var followers = new string[3];
        var roles = new string[3];
        for (var f = 0; f < 3; f++)
        {
            var (db, init) = await AddGatewayFollowerAsync($"bench/f{f}", cancellationToken);
            (followers[f], roles[f]) = (db, init.RoleId);
        }

        var natives = new string[3];
        for (var f = 0; f < 3; f++)
        {
            natives[f] = await AddNativeFollowerAsync(cancellationToken);
            await SubscribeNativeAsync(natives[f], P2Subscription(f), copyData: false, cancellationToken);
        }

        // Start from a settled state: a marker row reaches the native subscriptions (so they stream) and
        // every gateway follower holds its granted set (the marker's variable is granted to follower 0).
        var marker = BenchData.VariableId("bench/p2", 0);
        await using (var connection = await _leaderSource.OpenConnectionAsync(cancellationToken))
        await using (var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", connection))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = marker });
            insert.Parameters.Add(new NpgsqlParameter { Value = _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), marker) });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var native in natives)
        {
            await UntilAsync(async () => await BenchData.CountAsync(native, CountSecrets, cancellationToken) == 1, "native P2 streaming", cancellationToken);
        }

        var expected = new long[3];
        for (var f = 0; f < 3; f++)
        {
            expected[f] = Enumerable.Range(0, m).Count(i => Granted(f, i)) + (Granted(f, 0) ? 1 : 0);
            var (db, target) = (followers[f], expected[f]);
            await UntilAsync(async () => await BenchData.CountAsync(db, CountSecrets, cancellationToken) == target, "P2 initial replicate", cancellationToken);
        }

        // Values are encrypted before the clock starts; each writer commits one row per transaction.
        Say($"P2: {sizes.P2Transactions:N0} single-row transactions from 2 writers");
        var writes = Enumerable.Range(0, sizes.P2Transactions).Select(_ => Random.Shared.Next(m)).ToArray();
        foreach (var index in writes)
        {
            for (var f = 0; f < 3; f++)
            {
                expected[f] += Granted(f, index) ? 1 : 0;
            }
        }

        // Probes are connected before the burst, so the figure is replication lag, not connection set-up.
        var gatewayProbes = await Task.WhenAll(followers.Select(f => OpenAsync(f, cancellationToken)));
        var nativeProbes = await Task.WhenAll(natives.Select(n => OpenAsync(n, cancellationToken)));
        var lastCommit = await WriteAsync(writes.Select(i => BenchData.VariableId("bench/p2", i)).ToArray(), cancellationToken);
        var nativeTarget = 1 + sizes.P2Transactions;
        var gatewayDone = Task.WhenAll(Enumerable.Range(0, 3).Select(f =>
            UntilAsync(async () => await CountOnAsync(gatewayProbes[f], cancellationToken) == expected[f], "P2 gateway", cancellationToken)));
        var nativeDone = Task.WhenAll(nativeProbes.Select(n =>
            UntilAsync(async () => await CountOnAsync(n, cancellationToken) == nativeTarget, "P2 native", cancellationToken)));
        var gatewayStamp = gatewayDone.ContinueWith(_ => Stopwatch.GetTimestamp(), cancellationToken, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var nativeStamp = nativeDone.ContinueWith(_ => Stopwatch.GetTimestamp(), cancellationToken, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var gatewayAt = await gatewayStamp;
        var nativeAt = await nativeStamp;
        foreach (var probe in gatewayProbes.Concat(nativeProbes))
        {
            await probe.DisposeAsync();
        }

        await gatewayDone;
        await nativeDone;
        for (var f = 0; f < 3; f++)
        {
            await VerifyAsync($"P2 follower {f}", followers[f], roles[f], cancellationToken);
        }

        return ((Stopwatch.GetElapsedTime(lastCommit, gatewayAt).TotalSeconds, Stopwatch.GetElapsedTime(lastCommit, nativeAt).TotalSeconds), followers, natives);
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static async Task<long> CountOnAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(CountSecrets, connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Two writers commit the given inserts, one row per transaction; returns the timestamp of the last commit.</summary>
    private async Task<long> WriteAsync(string[] ids, CancellationToken cancellationToken)
    {
        var values = ids.Select(id => _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), id)).ToArray();
        var last = new long[2];
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async w =>
        {
            await using var connection = await _leaderSource.OpenConnectionAsync(cancellationToken);
            await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", connection);
            var id = new NpgsqlParameter<string> { TypedValue = "" };
            var value = new NpgsqlParameter<byte[]> { TypedValue = [] };
            insert.Parameters.Add(id);
            insert.Parameters.Add(value);
            await insert.PrepareAsync(cancellationToken);
            for (var i = w; i < ids.Length; i += 2)
            {
                id.TypedValue = ids[i];
                value.TypedValue = values[i];
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            last[w] = Stopwatch.GetTimestamp();
        }));
        return Math.Max(last[0], last[1]);
    }

    /// <summary>P3: one change at a time on an idle system; the same probe polls a gateway follower and a native one.</summary>
    private async Task<(double GatewayP50, double GatewayP99, double NativeP50, double NativeP99)> MeasureLatencyAsync(
        string follower, string followerName, string native, CancellationToken cancellationToken)
    {
        Say($"P3: {sizes.P3Changes} single changes, commit → visible");
        var m = sizes.P2Variables;
        var granted = Enumerable.Range(0, m / 3).Select(i => BenchData.VariableId("bench/p2", i)).ToArray();
        var gateway = new List<double>();
        var nativeLatencies = new List<double>();
        await using var leader = await _leaderSource.OpenConnectionAsync(cancellationToken);
        await using var gatewayProbe = new NpgsqlConnection(follower);
        await using var nativeProbe = new NpgsqlConnection(native);
        await gatewayProbe.OpenAsync(cancellationToken);
        await nativeProbe.OpenAsync(cancellationToken);
        for (var k = 0; k < sizes.P3Changes; k++)
        {
            var id = granted[k % granted.Length];
            await using var insert = new NpgsqlCommand(
                "INSERT INTO secrets (resource_id, value) VALUES ($1, $2) RETURNING version, pg_current_xact_id()::text::bigint", leader);
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), id) });
            int version;
            long tx;
            await using (var reader = await insert.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                (version, tx) = (reader.GetInt32(0), reader.GetInt64(1));
            }

            var committed = Stopwatch.GetTimestamp();
            var probes = await Task.WhenAll(ProbeAsync(gatewayProbe, id, version, committed, cancellationToken), ProbeAsync(nativeProbe, id, version, committed, cancellationToken));
            gateway.Add(probes[0]);
            nativeLatencies.Add(probes[1]);

            // The next change meets an idle system: the gateway has also recorded this one's delivery (its last
            // step, after the follower's commit), instead of still writing it while the next one is measured.
            await using var delivered = new NpgsqlCommand(
                "SELECT EXISTS (SELECT 1 FROM partial_replica.delivery WHERE follower = $1 AND last_tx >= $2::text::xid8)", leader);
            delivered.Parameters.Add(new NpgsqlParameter { Value = followerName });
            delivered.Parameters.Add(new NpgsqlParameter { Value = tx.ToString(CultureInfo.InvariantCulture) });
            await UntilAsync(async () => (bool)(await delivered.ExecuteScalarAsync(cancellationToken))!, "P3 delivery recorded", cancellationToken);
        }

        return (Percentile(gateway, 50), Percentile(gateway, 99), Percentile(nativeLatencies, 50), Percentile(nativeLatencies, 99));
    }

    private static async Task<double> ProbeAsync(NpgsqlConnection probe, string id, int version, long committed, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM secrets WHERE resource_id = $1 AND version = $2)", probe);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        await command.PrepareAsync(cancellationToken);
        while (!(bool)(await command.ExecuteScalarAsync(cancellationToken))!)
        {
            if (Stopwatch.GetElapsedTime(committed) > TimeSpan.FromSeconds(30))
            {
                throw new PartialReplicaException($"P3: a change did not become visible within 30 s.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken);
        }

        return Stopwatch.GetElapsedTime(committed).TotalMilliseconds;
    }

    /// <summary>The native subscription of P2's follower <paramref name="follower"/> (made in P2, dropped after P3).</summary>
    private static string P2Subscription(int follower) => string.Create(CultureInfo.InvariantCulture, $"bench_p2_{follower}");

    private static double Percentile(List<double> values, int percentile)
    {
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1;
        return Math.Round(sorted[Math.Clamp(rank, 0, sorted.Length - 1)], 2);
    }

    /// <summary>
    /// P4: two writers into variables no follower is granted, with and without the capture triggers, on the gateway
    /// deployment alone (four followers, one walsender each; the native comparison's subscriptions are dropped after
    /// P3). The sustained commit rate of each mode is measured in many short rounds, alternating, with each round's
    /// first <see cref="BenchSizes.P4WarmUp"/> not counted (in both modes).
    /// </summary>
    /// <remarks>
    /// Why: this machine's speed drifts by up to half within seconds (250 ms buckets of one 5 s round without capture
    /// ranged from 880 to 1,800 commits/s), and four pairs of 5 s rounds left the ratio of identical code anywhere
    /// from 0.73 to 0.96. Sixteen pairs, the order flipped in every other pair (with/without, without/with, ...),
    /// put that drift on both modes alike. Each "with" round starts with an idle gateway, which writers notify, each
    /// notifying commit serialising the leader's, until it turns busy and asks them not to: the rounds' first 250 ms
    /// ran at 300–780 commits/s against about 1,000 after. That is the start-up of a burst, not the cost of capturing
    /// sustained writes, and with short rounds it would be counted in every one of them; the warm-up keeps it out
    /// (and the "without" rounds' own first moments, for symmetry).
    /// </remarks>
    private async Task<(double With, double Without)> MeasureCaptureCostAsync(CancellationToken cancellationToken)
    {
        var pairs = sizes.P4Pairs;
        var round = sizes.P4Duration / pairs;
        Say($"P4: commit rate with and without capture, {sizes.P4Duration.TotalSeconds:0.#} s each, in {pairs * 2} alternating rounds of {round.TotalSeconds:0.##} s after {sizes.P4WarmUp.TotalSeconds:0.##} s of warm-up");
        await BenchData.CreateVariablesAsync(_leaderSource, "bench/p4", sizes.P4Variables, _ => [], cancellationToken);
        var ids = Enumerable.Range(0, sizes.P4Variables).Select(i => BenchData.VariableId("bench/p4", i)).ToArray();
        var value = _crypto.Encrypt(RandomNumberGenerator.GetBytes(32), ids[0]);

        async Task<double> RateAsync()
        {
            var commits = new long[2];
            var warmUp = sizes.P4WarmUp;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 2).Select(async w =>
            {
                await using var connection = await _leaderSource.OpenConnectionAsync(cancellationToken);
                await using var insert = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", connection);
                var id = new NpgsqlParameter<string> { TypedValue = "" };
                insert.Parameters.Add(id);
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = value });
                await insert.PrepareAsync(cancellationToken);
                while (clock.Elapsed < warmUp + round)
                {
                    id.TypedValue = ids[Random.Shared.Next(ids.Length)];
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                    if (clock.Elapsed >= warmUp)
                    {
                        commits[w]++;
                    }
                }
            }));
            return (commits[0] + commits[1]) / (clock.Elapsed - warmUp).TotalSeconds;
        }

        async Task<double> WithoutCaptureAsync()
        {
            await BenchData.ExecuteAsync(_leader, "ALTER TABLE secrets DISABLE TRIGGER partial_replica_capture_inserts, DISABLE TRIGGER partial_replica_capture_deletes", cancellationToken);
            try
            {
                return await RateAsync();
            }
            finally
            {
                await BenchData.ExecuteAsync(_leader, "ALTER TABLE secrets ENABLE TRIGGER partial_replica_capture_inserts, ENABLE TRIGGER partial_replica_capture_deletes", cancellationToken);
            }
        }

        double with = 0, without = 0;
        for (var pair = 0; pair < pairs; pair++)
        {
            if (pair % 2 == 0)
            {
                with += await RateAsync() / pairs;
                without += await WithoutCaptureAsync() / pairs;
            }
            else
            {
                without += await WithoutCaptureAsync() / pairs;
                with += await RateAsync() / pairs;
            }
        }

        return (Math.Round(with, 1), Math.Round(without, 1));
    }

    /// <summary>P5: a policy load of N variables with grants, and the granted count of the P1 follower.</summary>
    private async Task<(double Load, double Count)> MeasurePolicyAsync(CancellationToken cancellationToken)
    {
        Say($"P5: policy load of {sizes.P5Variables:N0} variables with grants; granted count at {sizes.P1Secrets:N0}");
        var clock = Stopwatch.StartNew();
        await new PolicyLoader(logger).LoadAsync(_leaderSource, new PolicyLoadRequest
        {
            PolicyText = SampleData.Policy("bench/p5", sizes.P5Variables, ["s1"]),
            FileName = "p5.yml",
            DataKey = _crypto,
        }, cancellationToken);
        var load = clock.Elapsed.TotalSeconds;

        await using var connection = await _leaderSource.OpenConnectionAsync(cancellationToken);
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            clock.Restart();
            var count = await GrantedSecretsReader.CountVariablesAsync(connection, "default:host:bench/p1", cancellationToken);
            times.Add(clock.Elapsed.TotalSeconds);
            if (count != sizes.P1Secrets)
            {
                throw new PartialReplicaException($"P5: the P1 follower's granted count is {count}, expected {sizes.P1Secrets}.");
            }
        }

        return (Math.Round(load, 3), Math.Round(times.Order().ElementAt(2), 4));
    }
}
