using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Hosting;

/// <summary>
/// A gateway or agent started by bench, the demo or a test names its parent; when that parent is killed,
/// the child stops instead of lingering. The parent here is a stand-in process the test kills for real.
/// </summary>
[Collection(LeaderServersCollection.Name)]
public sealed class ParentProcessWatchTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task An_agent_stops_when_the_process_that_started_it_is_killed()
    {
        var followerDb = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "orphan");
        await using (var source = NpgsqlDataSource.Create(followerDb))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(source, DatabaseRole.Follower, CancellationToken.None);
        }

        using var parent = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        await using var agent = ChildHost.Agent("orphan", followerDb, "http://127.0.0.1:9", ChildHost.FreePort())
            .WithEnvironment("PARTIALREPLICA_PARENT_PID", parent.Id.ToString(CultureInfo.InvariantCulture));
        await agent.StartAsync();
        Assert.True(agent.IsRunning);

        parent.Kill();
        await parent.WaitForExitAsync();

        await Eventually.HoldsAsync(() => Task.FromResult(!agent.IsRunning), $"the agent to stop after its parent died{Environment.NewLine}{agent.OutputTail}", TimeSpan.FromSeconds(20));
    }
}
