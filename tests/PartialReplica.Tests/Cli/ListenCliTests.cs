using System.Collections.Concurrent;
using System.Diagnostics;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

/// <summary>`listen`: the dispatcher in the foreground, one line per push (beside a gateway serving only its APIs).</summary>
[Collection(EndToEndCollection.Name)]
public sealed class ListenCliTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Listen_pushes_a_change_and_prints_one_line_for_it()
    {
        // The gateway serves JWKS (agents verify pushes with it); the pushing is listen's.
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Gateway(new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" })
            .Follower("conjur/followers/west-1", 0)
            .StartAsync();
        var (leader, follower) = (world.Leader, world.FollowerDb("conjur/followers/west-1"));

        var lines = new ConcurrentQueue<string>();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "partial-replica.dll"));
        info.ArgumentList.Add("listen");
        info.Environment["PARTIALREPLICA_LEADER"] = leader;
        info.Environment["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64;
        using var listen = new Process { StartInfo = info };
        listen.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        listen.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        listen.Start();
        listen.BeginOutputReadLine();
        listen.BeginErrorReadLine();
        try
        {
            // First the new follower's reconcile (nothing to hold yet), then one push for one new value.
            await Eventually.HoldsAsync(() => Task.FromResult(lines.Any(l => l.Contains("(reconcile)", StringComparison.Ordinal))), "reconcile line");
            await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ('default:variable:apps/billing/api/token', '\\x4701'::bytea)");
            await Eventually.HoldsAsync(
                () => Task.FromResult(lines.Any(l => l.Contains("follower=conjur/followers/west-1 variables=1 upserts=1 deletes=0", StringComparison.Ordinal))),
                "one line for the push");
            Assert.Equal(1L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets WHERE resource_id = 'default:variable:apps/billing/api/token'"));
        }
        finally
        {
            listen.Kill(entireProcessTree: true);
            await listen.WaitForExitAsync();
        }
    }
}
