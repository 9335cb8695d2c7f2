using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PartialReplica.Tests.Faults;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Status;

/// <summary>
/// Issue 26: <c>GET /status</c>, <c>status --json</c> and the <c>status</c> table name the gateway that serves each
/// follower (as recorded on the leader) and list the live gateways; a gateway stopped gracefully leaves both lists
/// at once (its row and its claims go, it does not wait for its lease to run out).
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class ServingGatewayStatusTests(ReplicationFixture fixture)
{
    [Fact]
    public async Task Status_names_the_serving_gateway_and_the_live_gateways_until_it_stops()
    {
        await using var world = await FaultWorld.On(fixture).StartAsync();
        var leader = world.Leader;
        var (gateway, url) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?> { ["Gateway:Id"] = "gw-status" });
        await using (gateway)
        {
            await world.AddInProcessFollowerAsync(FaultWorld.East, await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "served"), url);
            await world.AwaitExactAsync(FaultWorld.East);

            // Over HTTP, as the dashboard reads it.
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            using (var login = await http.PostAsync("/authn/default/admin/authenticate", new StringContent(world.AdminApiKey!, Encoding.UTF8, "text/plain")))
            {
                Assert.True(login.IsSuccessStatusCode, $"admin login answered {login.StatusCode}");
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await login.Content.ReadAsStringAsync()).Trim());
            }

            JsonElement served = default;
            await Eventually.HoldsAsync(async () =>
            {
                served = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement.Clone();
                return Follower(served).GetProperty("servedBy").GetString() == "gw-status";
            }, "GET /status names gw-status as east-1's gateway");
            var live = served.GetProperty("gateways").EnumerateArray().Single();
            Assert.Equal("gw-status", live.GetProperty("id").GetString());
            Assert.Equal(url, live.GetProperty("url").GetString());
            Assert.Equal(1, live.GetProperty("followers").GetInt32());
            Assert.InRange(live.GetProperty("leaseAgeMs").GetInt64(), 0, 6000);
            Assert.InRange(live.GetProperty("leaseLeftMs").GetInt64(), 1, 6000);

            // The CLI reads the same from the leader.
            var json = await CliAsync(leader, "status", "--json");
            Assert.Equal("gw-status", Follower(json).GetProperty("servedBy").GetString());
            Assert.Equal("gw-status", json.GetProperty("gateways")[0].GetProperty("id").GetString());
            var table = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, "status");
            Assert.True(table.ExitCode == 0, table.Stderr);
            // The gateway's note wraps at 80 columns (the output is a pipe): read it with its line breaks as spaces.
            var notes = System.Text.RegularExpressions.Regex.Replace(table.Stdout, @"\s+", " ");
            Assert.Matches($@"gateway gw-status at {System.Text.RegularExpressions.Regex.Escape(url)} \(lease renewed \d+ s ago\): serves east-1", notes);

            await gateway.StopAsync();
        }

        // Gone at once, not after the lease: the row and the claim were removed at the graceful stop.
        var after = await CliAsync(leader, "status", "--json");
        Assert.Equal(0, after.GetProperty("gateways").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, Follower(after).GetProperty("servedBy").ValueKind);
        Assert.Equal(0, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.gateways"));
        Assert.Equal(0, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.delivery WHERE gateway IS NOT NULL"));
    }

    private static JsonElement Follower(JsonElement status) =>
        status.GetProperty("followers").EnumerateArray().Single(f => f.GetProperty("name").GetString() == FaultWorld.East);

    private static async Task<JsonElement> CliAsync(string leader, params string[] arguments)
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, arguments);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return JsonDocument.Parse(result.Stdout).RootElement.Clone();
    }
}
