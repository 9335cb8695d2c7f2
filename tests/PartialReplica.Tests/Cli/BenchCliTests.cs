using System.Text.Json;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

/// <summary>`bench --quick` completes and its correctness checks pass; no timing is asserted (SPEC §6).</summary>
public sealed class BenchCliTests
{
    [Fact]
    public async Task Bench_quick_verifies_every_follower_and_reports_all_figures_as_json()
    {
        // P1–P10 and P8 start eight PostgreSQL servers and some twenty child processes: 6–8 min at load ~30 on two cores.
        var result = await CliProcess.RunAsync(TimeSpan.FromMinutes(15), null, "bench", "--quick", "--json");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var report = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.True(report.GetProperty("quick").GetBoolean());
        // Quick P1 takes two samples on each side, each with a follower of its own; P2 has three followers; P7 revokes from P2's first;
        // quick P10 has four followers, checked after its runs at one and two gateways; quick P8 four, checked after their
        // initial sync and after the steady runs at two and four.
        Assert.Equal(
            ["P1 follower", "P1 follower 2", "P2 follower 0", "P2 follower 1", "P2 follower 2", "P7 follower",
             "P10 follower 0", "P10 follower 1", "P10 follower 2", "P10 follower 3",
             "P8 follower 0 after the initial sync", "P8 follower 1 after the initial sync", "P8 follower 2 after the initial sync", "P8 follower 3 after the initial sync",
             "P8 follower 0", "P8 follower 1", "P8 follower 2", "P8 follower 3"],
            report.GetProperty("verified").EnumerateArray().Select(v => v.GetString()![..v.GetString()!.IndexOf(':', StringComparison.Ordinal)]));
        var ids = report.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(["P1", "P2", "P3", "P4", "P5", "P5c", "P6", "P7", "P9", "P9c", "P10.1", "P10.2", "P10x", "P10d", "P10f", "P8", "P8.2", "P8.4", "P8x", "P8m", "P8c"], ids);
        var p1 = report.GetProperty("results")[0];
        foreach (var side in new[] { "gateway", "native" })
        {
            var samples = p1.GetProperty(side + "Samples").EnumerateArray().Select(e => e.GetDouble()).ToList();
            Assert.Equal(2, samples.Count);
            Assert.All(samples, s => Assert.True(s > 0, side));
            Assert.Equal(samples.Average(), p1.GetProperty(side).GetDouble(), 9);
        }
        // Each P10 run made commits, delivered them (every one read back with its timestamps on every follower granted it),
        // and measured the gateways' CPU; the same workload ran natively.
        foreach (var id in new[] { "P10.1", "P10.2" })
        {
            var details = report.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("id").GetString() == id).GetProperty("details");
            foreach (var measure in new[] { "commits", "concerned", "committedPerSecond", "p50Ms", "p99Ms", "gatewayCpuMsPerCommit", "nativeP50Ms", "nativeP99Ms" })
            {
                Assert.True(details.GetProperty(measure).GetDouble() > 0, $"{id} {measure}");
            }

            Assert.True(details.GetProperty("concerned").GetDouble() <= details.GetProperty("commits").GetDouble(), id);
        }

        // Each P8 step made commits and delivered them to the followers it served, with the gateway's CPU and the leader's
        // statements counted; the leader's connections were sampled (a walsender per follower's subscription at least).
        var steps = new[] { "P8.2", "P8.4" }.Select(id => report.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("id").GetString() == id).GetProperty("details")).ToList();
        foreach (var details in steps)
        {
            foreach (var measure in new[] { "commits", "concerned", "deliveriesPerCommit", "committedPerSecond", "gatewayCpuMsPerCommit", "leaderStatementsPerCommit" })
            {
                Assert.True(details.GetProperty(measure).GetDouble() > 0, measure);
            }
        }

        // SPEC §6's P8 object: the initial sync beside native, with the steady p99, the cost ratio and the RSS at all followers.
        var p8 = report.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("id").GetString() == "P8");
        foreach (var measure in new[] { "native", "steadyP99Ms", "costRatio20to5", "rssMb" })
        {
            Assert.True(p8.GetProperty(measure).GetDouble() > 0, measure);
        }

        var connections = report.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("id").GetString() == "P8c").GetProperty("details");
        Assert.True(connections.GetProperty("walsenders").GetDouble() >= 4, "a walsender per follower");

        foreach (var figure in report.GetProperty("results").EnumerateArray())
        {
            Assert.True(figure.GetProperty("gateway").GetDouble() > 0, figure.GetProperty("id").GetString());
            var native = figure.GetProperty("native");
            Assert.True(native.ValueKind == JsonValueKind.Null || native.GetDouble() > 0);
        }
    }
}
