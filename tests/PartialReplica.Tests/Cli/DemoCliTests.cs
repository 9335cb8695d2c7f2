using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

public sealed class DemoCliTests
{
    [Fact]
    public async Task Demo_runs_end_to_end_proves_exact_followers_and_cleans_up()
    {
        var before = Directory.Exists(PartialReplica.Clusters.PostgresCluster.Root)
            ? Directory.GetFiles(PartialReplica.Clusters.PostgresCluster.Root, "demo-*.owner").Length
            : 0;

        var result = await CliProcess.RunAsync(null, "demo", "--samples", "100");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("Demo passed", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("conjur/followers/east-1: exactly", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("conjur/followers/west-1: exactly", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFiles(PartialReplica.Clusters.PostgresCluster.Root, "demo-*.owner").Length);
    }
}
