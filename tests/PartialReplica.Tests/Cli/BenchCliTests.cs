using System.Text.Json;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

/// <summary>`bench --quick` completes and its correctness checks pass; no timing is asserted (SPEC §6).</summary>
public sealed class BenchCliTests
{
    [Fact]
    public async Task Bench_quick_verifies_every_follower_and_reports_all_figures_as_json()
    {
        var result = await CliProcess.RunAsync(null, "bench", "--quick", "--json");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var report = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.True(report.GetProperty("quick").GetBoolean());
        Assert.Equal(4, report.GetProperty("verified").GetArrayLength());
        var ids = report.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(["P1", "P2", "P3", "P4", "P5", "P5c", "P6"], ids);
        foreach (var figure in report.GetProperty("results").EnumerateArray())
        {
            Assert.True(figure.GetProperty("gateway").GetDouble() > 0, figure.GetProperty("id").GetString());
            var native = figure.GetProperty("native");
            Assert.True(native.ValueKind == JsonValueKind.Null || native.GetDouble() > 0);
        }
    }
}
