using System.Globalization;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Leader.Setup;
using PartialReplica.Policies;
using PartialReplica.Tooling.Clusters;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tooling.Bench;

/// <summary>
/// <c>bench --reconcile-memory</c> (issue 25): the gateway's peak RSS during a new follower's full reconcile, against
/// the size of the granted set. A reconcile holds at most two pages (FollowerWorker), so the peak should not grow
/// with the set.
/// </summary>
internal sealed partial class BenchRunner
{
    private const string ReconcileMemoryPrefix = "bench/rm";

    /// <summary>The granted sizes measured: 10,000, 100,000 and 1,000,000 (quick: 1,000 and 5,000).</summary>
    private int[] ReconcileMemorySizes => quick ? [1_000, 5_000] : [10_000, 100_000, 1_000_000];

    private static string ReconcileMemorySet(int size) => string.Create(CultureInfo.InvariantCulture, $"rm{size}");

    private static string ReconcileMemoryFollower(int size) => string.Create(CultureInfo.InvariantCulture, $"bench/rm-{size}");

    /// <summary>
    /// One leader holding as many variables as the largest size, one value each (binary COPY); variable i is granted to
    /// the follower of every size above i, so each follower's set is the first <c>size</c> variables. For each size, in
    /// increasing order: a new gateway process (so its peak is this reconcile's), ready; a new follower registered, its
    /// agent started and ready, then its agent URL recorded, which starts the reconcile; timed until the follower holds
    /// every row, then verified exact. The figure is the gateway's peak RSS (VmHWM), beside its peak when ready and
    /// idle; then the follower is removed and the gateway stopped.
    /// </summary>
    public async Task<BenchReport> RunReconcileMemoryAsync(CancellationToken cancellationToken)
    {
        var sizes = ReconcileMemorySizes;
        Say("reconcile memory: starting leader and follower servers (fsync on)");
        var clusters = await Task.WhenAll(
            StartLeaderClusterAsync("bench-rm-leader", cancellationToken),
            PostgresCluster.StartAsync(new ClusterOptions { Name = "bench-rm-followers", Durable = true }, cancellationToken));
        _owned.AddRange(clusters);
        (_leaderCluster, _followers) = (clusters[0], clusters[1]);
        var leader = _leaderCluster.ConnectionString(await _leaderCluster.CreateDatabaseAsync("conjur", cancellationToken));

        // The bench's own statements on a million rows (the COPY ending in the capture's statement triggers, vacuums,
        // registering a follower granted them all) may take longer than the default 30 s on a loaded machine; the
        // gateways get the plain connection string.
        _leader = new NpgsqlConnectionStringBuilder(leader) { CommandTimeout = 1800 }.ConnectionString;
        _leaderSource = NpgsqlDataSource.Create(_leader);
        _owned.Add(_leaderSource);

        await new LeaderSetup(logger).RunAsync(_leader, new SetupOptions { DataKey = _crypto }, cancellationToken);
        await new PolicyLoader(logger).LoadAsync(_leaderSource, new PolicyLoadRequest
        {
            PolicyText = BenchData.Policy(sizes.Select(size => (ReconcileMemorySet(size), ReconcileMemoryFollower(size)))),
            FileName = "bench-reconcile-memory.yml",
            DataKey = _crypto,
        }, cancellationToken);

        var largest = sizes.Max();
        Say($"reconcile memory: creating {largest:N0} variables with values; follower of size n granted the first n");

        await BenchData.CreateVariablesAsync(_leaderSource, ReconcileMemoryPrefix, largest,
            i => sizes.Where(size => i < size).Select(ReconcileMemorySet), cancellationToken);
        await BenchData.InsertValuesAsync(_leaderSource, ReconcileMemoryPrefix, largest, _crypto, cancellationToken);
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE)", cancellationToken);

        // One gateway key for the run: the first gateway makes the leader's signing keys with it, and each next one must decrypt them.
        var gatewayKey = GatewayKey.GenerateBase64();
        var figures = new List<BenchFigure>();
        foreach (var size in sizes)
        {
            figures.Add(await MeasureReconcileMemoryAsync(leader, gatewayKey, size, cancellationToken));
        }

        return new BenchReport(await MachineAsync(_leader, cancellationToken), quick, _verified, figures);
    }

    private async Task<BenchFigure> MeasureReconcileMemoryAsync(string gatewayLeader, string gatewayKey, int size, CancellationToken cancellationToken)
    {
        Say($"reconcile memory: {size:N0} granted, new gateway");
        _gateway = ChildHost.Create("gateway", ["serve", "gateway"], new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = gatewayLeader,
            [GatewayKey.EnvironmentVariable] = gatewayKey,
            ["CONJUR_DATA_KEY"] = DataKeyBase64,
        });
        _owned.Add(_gateway);
        await _gateway.StartAsync(cancellationToken);
        var idle = _gateway.PeakRssMegabytes();

        var name = ReconcileMemoryFollower(size);
        var follower = await CreateFollowerDatabaseAsync(cancellationToken);
        var init = await InitFollowerAsync(follower, name, null, cancellationToken);
        await BenchData.ExecuteAsync(_leader, "VACUUM (ANALYZE) partial_replica.granted", cancellationToken);
        var agent = await StartAgentAsync(follower, name, cancellationToken);
        await agent.WaitReadyAsync(cancellationToken);
        var cpuBefore = _gateway.CpuMilliseconds();

        // Done when the last granted variable is there (the last page commits last), then the count: a count of a
        // million rows at every probe would load the machine being measured.
        var last = BenchData.VariableId(ReconcileMemoryPrefix, size - 1);
        var done = CompletedAtAsync(async () => await BenchData.HoldsAsync(follower, last, cancellationToken)
            && await BenchData.CountAsync(follower, CountSecrets, cancellationToken) == size, $"reconcile of {size:N0}", cancellationToken);
        await InitFollowerAsync(follower, name, agent.Url, cancellationToken);
        var seconds = (await done - await AgentRecordedAsync(init.Name, cancellationToken)).TotalSeconds;
        var peak = _gateway.PeakRssMegabytes();
        var cpu = _gateway.CpuMilliseconds() - cpuBefore;
        await VerifyAsync($"reconcile memory follower of {size:N0}", follower, init.RoleId, cancellationToken);

        await RemoveGatewayFollowerAsync(follower, init, agent, cancellationToken);
        _owned.Remove(_gateway);
        await _gateway.DisposeAsync();

        return new BenchFigure(
            string.Create(CultureInfo.InvariantCulture, $"RM{size}"),
            $"gateway peak RSS, full reconcile of {size:N0} granted secrets to an empty follower", Math.Round(peak, 1), null, "MB",
            "flat in the granted size", "≤ 120 MB")
        {
            Details = new Dictionary<string, double>
            {
                ["ready MB"] = Math.Round(idle, 1),
                ["reconcile s"] = Math.Round(seconds, 3),
                ["gateway CPU s"] = Math.Round(cpu / 1000, 2),
            },
        };
    }
}
