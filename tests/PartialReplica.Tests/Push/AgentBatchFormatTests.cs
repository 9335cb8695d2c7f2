using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Protocol;
using PartialReplica.Schema;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>
/// The agent's batch endpoint over HTTP: the binary form the gateway sends applies; a malformed binary body is a 400
/// that changes nothing; any other media type is a 415 with an error body.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class AgentBatchFormatTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const string Follower = "conjur/followers/format";
    private const string RoleId = "default:host:" + Follower;
    private readonly List<WebApplication> _apps = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Binary_batches_apply_malformed_ones_change_nothing()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" });
        _apps.Add(gateway);
        var followerDb = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "format");
        await using (var followerSource = NpgsqlDataSource.Create(followerDb))
        {
            await new MigrationRunner(NullLogger.Instance).MigrateAsync(followerSource, DatabaseRole.Follower, CancellationToken.None);
        }

        // This follower subscribes to nothing: the test writes what replication would, a heartbeat past the batches'
        // stamps and a policy granting it the variable (replica set full), so the agent's own check passes.
        await Db.ExecuteAsync(followerDb, "INSERT INTO partial_replica.heartbeat (id, beat_at, leader_lsn) VALUES (1, now(), 100)");
        await Db.ExecuteAsync(followerDb, "INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:a', 'default:user:admin')");
        await Db.ExecuteAsync(followerDb,
            "INSERT INTO permissions (privilege, resource_id, role_id) VALUES ('replicate', 'default:webservice:conjur/replication-sets/full', $1)", RoleId);

        var (agent, agentUrl) = await WebHosts.StartAgentAsync(Follower, followerDb, gatewayUrl);
        _apps.Add(agent);
        await using var leaderSource = NpgsqlDataSource.Create(leader);
        var tokens = SignedPushTokens.ForLeader(leaderSource, TestGatewayKey.Key);
        using var http = new HttpClient();
        var route = new Uri(new Uri(agentUrl), HttpBatchSender.AgentRoute);

        async Task<HttpResponseMessage> PostAsync(HttpContent content)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = content };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetTokenAsync(RoleId, CancellationToken.None));
            return await http.SendAsync(request);
        }

        static ByteArrayContent Binary(byte[] bytes) =>
            new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue(PushBatchCodec.ContentType) } };

        byte[] value = [0, 1, 0, 255];
        var batch = new PushBatch("b1", "test", Follower, [new VariableState("default:variable:a", 10, [new SecretVersion(1, value, null)])]);
        using var writer = new PooledBufferWriter(PushBatchCodec.EstimateSize(batch));
        PushBatchCodec.Encode(batch, writer);
        var encoded = writer.WrittenSpan.ToArray();

        // Malformed binary (cut short, then garbage) and an unknown media type: refused, nothing applied.
        using (var truncated = await PostAsync(Binary(encoded[..^3])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
            Assert.Contains("binary push format", await truncated.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var garbage = await PostAsync(Binary([1, 2, 3, 4, 5, 6, 7, 8])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        }

        using (var text = await PostAsync(new StringContent("hello")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
            using var error = JsonDocument.Parse(await text.Content.ReadAsStringAsync());
            Assert.Equal("unsupported_media_type", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(0, await Db.ScalarAsync<long>(followerDb, "SELECT count(*) FROM partial_replica.apply_log"));
        Assert.Equal(0, await Db.ScalarAsync<long>(followerDb, "SELECT count(*) FROM secrets"));

        // The binary form applies, byte-exact.
        using (var applied = await PostAsync(Binary(encoded)))
        {
            Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
            Assert.Equal(new ApplyReport(1, 0, 1, 0), await applied.Content.ReadFromJsonAsync<ApplyReport>(HttpBatchSender.Json));
        }

        Assert.Equal(value, await Db.ScalarAsync<byte[]>(followerDb, "SELECT value FROM secrets WHERE resource_id = 'default:variable:a' AND version = 1"));
    }
}
