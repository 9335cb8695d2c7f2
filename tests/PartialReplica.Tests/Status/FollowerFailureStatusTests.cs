using System.Text.Json;
using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Status;

/// <summary>
/// A follower's database stopped for real: <c>status --json</c> names the cause (the follower database refusing
/// connections, as its agent reported), when it began and the breaker's pause apart, keeps it in the recent
/// errors, and clears the error and the breaker once the follower is served again.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class FollowerFailureStatusTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Stopped_follower_database_shows_its_cause_and_the_breaker_apart_until_it_is_healthy()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var eastServer = await fixture.StartClusterAsync("east-status");
        var gateway = world.Track(ChildHost.Gateway(leader, "gw", new Dictionary<string, string> { ["BreakDuration"] = "00:00:20" }));
        await gateway.StartAsync();
        var eastDb = eastServer.ConnectionString(await eastServer.CreateDatabaseAsync("status", CancellationToken.None));
        await world.AddFollowerAsync(FaultWorld.East, eastDb, gateway.Url);
        await world.AwaitExactAsync(FaultWorld.East);
        var healthy = await EastAsync(leader);
        Assert.Equal(JsonValueKind.Null, healthy.GetProperty("lastError").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, healthy.GetProperty("lastPushAt").ValueKind);
        Assert.True(healthy.GetProperty("retainedWalBytes").GetInt64() >= 0);

        await eastServer.StopAsync(immediate: true, CancellationToken.None);
        await world.SetSecretAsync(FaultWorld.Inventory[0], "changed while east-1 is down"u8.ToArray());

        JsonElement down = default;
        await Eventually.HoldsAsync(async () =>
        {
            down = await EastAsync(leader);
            return down.GetProperty("breaker").ValueKind == JsonValueKind.String;
        }, "the breaker opens on east-1's failed pushes");
        var cause = down.GetProperty("lastError").GetString()!;
        // Which host, what it said: the agent's address, its status code and its own words.
        Assert.Matches(@"^agent https?://\S+ answered 503: follower database refused connections: ", cause);
        Assert.EndsWith("(Connection refused)", cause, StringComparison.Ordinal);
        Assert.DoesNotContain("BrokenCircuit", cause, StringComparison.Ordinal);
        Assert.Matches(@"^paused, retrying in \d+ s$", down.GetProperty("breaker").GetString());
        var since = down.GetProperty("lastErrorSince").GetDateTimeOffset();
        Assert.InRange(since, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        var recent = down.GetProperty("recentErrors").EnumerateArray().ToList();
        Assert.InRange(recent.Count, 1, 10);
        Assert.Equal(cause, recent[0].GetProperty("message").GetString());
        Assert.Equal(
            recent.Select(e => e.GetProperty("at").GetDateTimeOffset()).OrderByDescending(t => t),
            recent.Select(e => e.GetProperty("at").GetDateTimeOffset()));
        Assert.DoesNotContain(recent, e => e.GetProperty("message").GetString()!.Contains("BrokenCircuit", StringComparison.Ordinal));

        // While the breaker is open the cause and its start stay as they were.
        await Eventually.HoldsAsync(async () =>
        {
            var later = await EastAsync(leader);
            return later.GetProperty("breaker").GetString() != down.GetProperty("breaker").GetString()
                && later.GetProperty("lastError").GetString() == cause && later.GetProperty("lastErrorSince").GetDateTimeOffset() == since;
        }, "the breaker's countdown moves while the cause and its start stay");

        await eastServer.StartServerAsync(CancellationToken.None);
        await world.AwaitExactAsync(FaultWorld.East, TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(async () =>
        {
            var back = await EastAsync(leader);
            return back.GetProperty("lastError").ValueKind == JsonValueKind.Null && back.GetProperty("breaker").ValueKind == JsonValueKind.Null
                && back.GetProperty("lastErrorSince").ValueKind == JsonValueKind.Null;
        }, "east-1's error and breaker are cleared once it is served again");
        var after = await EastAsync(leader);
        Assert.True(after.GetProperty("lastPushAt").GetDateTimeOffset() > since);
        // The recent errors stay for the operator to read.
        Assert.Equal(cause, after.GetProperty("recentErrors")[0].GetProperty("message").GetString());
    }

    private static async Task<JsonElement> EastAsync(string leader)
    {
        var status = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, "status", "--json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        return JsonDocument.Parse(status.Stdout).RootElement.GetProperty("followers").EnumerateArray()
            .Single(r => r.GetProperty("name").GetString() == FaultWorld.East).Clone();
    }
}
