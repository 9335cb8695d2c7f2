using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Status;

/// <summary>
/// <c>status</c> run as the real binary with its output redirected (not a terminal): the table keeps to 80 columns
/// with long follower names, and <c>--watch</c> refreshes until Ctrl-C.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class StatusCliTests(ReplicationFixture fixture)
{
    private const string Long = "conjur/followers/us-east-datacenter-primary-replica-01";
    private const string Standby = "conjur/followers/eu-west-standby-02";

    // Nothing listens on port 1: the agents are unreachable, and each row says so.
    private const string DeadAgent = "http://127.0.0.1:1/";

    [Fact]
    public async Task Status_into_a_pipe_keeps_to_80_columns_with_long_names_and_splits_no_word()
    {
        await using var world = await LeaderWithLongFollowersAsync();
        var leader = world.Leader;

        var status = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, "status");

        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        var lines = status.Stdout.Split('\n');
        Assert.All(lines, line => Assert.True(line.Length <= 80, $"{line.Length} columns: {line}"));
        var words = status.Stdout.Split([' ', '\n', ','], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var whole in new[] { "us-east-datacenter-primary-replica-01", "eu-west-standby-02", "unknown", "never", "http://127.0.0.1:1/", "east" })
        {
            Assert.Contains(whole, words);
        }

        Assert.Contains("Follower names are shown without their conjur/followers/ prefix.", status.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("conjur/followers/us-east", status.Stdout, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("us-east-datacenter-primary-replica-01: last error: agent", StringComparison.Ordinal));

        // The JSON names everything in full, with the new fields present.
        var json = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, "status", "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        var rows = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("followers").EnumerateArray().ToList();
        Assert.Equal([Standby, Long], rows.Select(r => r.GetProperty("name").GetString()));
        Assert.All(rows, row =>
        {
            Assert.StartsWith($"agent {DeadAgent} unreachable: Connection refused", row.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Null, row.GetProperty("lastPushAt").ValueKind);
            Assert.Equal(JsonValueKind.Null, row.GetProperty("breaker").ValueKind);
            Assert.Equal(0, row.GetProperty("recentErrors").GetArrayLength());
            Assert.True(row.GetProperty("retainedWalBytes").GetInt64() >= 0);
        });
    }

    [Fact]
    public async Task Status_watch_refreshes_until_ctrl_c_and_exits_cleanly()
    {
        await using var world = await LeaderWithLongFollowersAsync();
        var leader = world.Leader;
        // A test run started in the background of a non-interactive shell inherits SIGINT as ignored, and .NET keeps
        // an inherited SIG_IGN, so the Ctrl-C below would never arrive; env restores the default disposition first.
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        foreach (var argument in new[] { "status", "--watch", "--interval", "0.5" })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["PARTIALREPLICA_LEADER"] = leader;
        info.Environment["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64;
        var stdout = new ConcurrentQueue<string>();
        var stderr = new ConcurrentQueue<string>();
        using var watch = new Process { StartInfo = info };
        watch.OutputDataReceived += (_, e) => { if (e.Data is not null) { stdout.Enqueue(e.Data); } };
        watch.ErrorDataReceived += (_, e) => { if (e.Data is not null) { stderr.Enqueue(e.Data); } };
        watch.Start();
        watch.BeginOutputReadLine();
        watch.BeginErrorReadLine();
        try
        {
            await Eventually.HoldsAsync(
                () => Task.FromResult(stdout.Count(l => l.StartsWith("status at ", StringComparison.Ordinal)) >= 2), "two refreshes");
            // Ctrl-C is SIGINT to the process.
            using (var kill = Process.Start("kill", ["-INT", watch.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }

            // The process itself, not the end of its output: WaitForExitAsync also waits for every holder of the
            // output pipe to close it, which a process started elsewhere in the suite at the same moment may delay.
            await Eventually.HoldsAsync(() => Task.FromResult(watch.HasExited),
                "status --watch exits after SIGINT",
                TimeSpan.FromSeconds(60));
            watch.WaitForExit(TimeSpan.FromSeconds(5));
        }
        finally
        {
            if (!watch.HasExited)
            {
                watch.Kill(entireProcessTree: true);
            }
        }

        Assert.True(watch.ExitCode == 0, $"exit {watch.ExitCode}: {string.Join('\n', stderr)}");
        Assert.Empty(stderr);
        var refreshes = stdout.Where(l => l.StartsWith("status at ", StringComparison.Ordinal)).ToList();
        Assert.True(refreshes.Count >= 2);
        Assert.All(refreshes, r => Assert.EndsWith(", every 0.5 s; Ctrl-C stops", r, StringComparison.Ordinal));
        Assert.Equal(refreshes.Count, stdout.Count(l => l.StartsWith("us-east-datacenter-primary-replica-01", StringComparison.Ordinal) && !l.Contains(':', StringComparison.Ordinal)));
        Assert.All(stdout, line => Assert.True(line.Length <= 80, line));
    }

    /// <summary>A leader with two followers of long names in replica set east, whose agents are unreachable.</summary>
    private Task<TestWorld> LeaderWithLongFollowersAsync() =>
        TestWorld.On(fixture)
            .DemoPolicy()
            .Policy("""
                - !policy
                  id: conjur/followers
                  body:
                  - !host us-east-datacenter-primary-replica-01
                  - !host eu-west-standby-02
                - !grant
                  role: !layer conjur/replication-sets/east/followers
                  members:
                  - !host conjur/followers/us-east-datacenter-primary-replica-01
                  - !host conjur/followers/eu-west-standby-02
                """)
            .FollowerWithoutAgent(Long, 0, DeadAgent)
            .FollowerWithoutAgent(Standby, 1, DeadAgent)
            .StartAsync();
}
