using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

public sealed class DemoCliTests
{
    [Fact]
    public async Task Demo_runs_end_to_end_proves_exact_followers_and_cleans_up()
    {
        var before = Directory.Exists(PartialReplica.Tooling.Clusters.PostgresCluster.Root)
            ? Directory.GetFiles(PartialReplica.Tooling.Clusters.PostgresCluster.Root, "demo-*.owner").Length
            : 0;

        var result = await CliProcess.RunAsync(null, "demo", "--samples", "100");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("Demo passed", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("conjur/followers/east-1: exactly", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("conjur/followers/west-1: exactly", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFiles(PartialReplica.Tooling.Clusters.PostgresCluster.Root, "demo-*.owner").Length);

        // Only the demo's own steps and results: the hosts log to files, and nothing warns about data protection.
        var lines = result.Stdout.Split('\n');
        Assert.DoesNotContain(lines, line => line.TrimStart().StartsWith('{'));
        Assert.DoesNotContain("DataProtection", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("XML encryptor", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, line => line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("info:", StringComparison.Ordinal));
        Assert.Contains("Follower names are shown without their conjur/followers/ prefix.", result.Stdout, StringComparison.Ordinal);
        Assert.All(lines, line => Assert.True(line.Length <= 80 || line.Contains('\u001b', StringComparison.Ordinal), line));
        // A demo that passed leaves no log folder behind.
        Assert.DoesNotContain("A step failed", result.Stdout, StringComparison.Ordinal);
    }
}
