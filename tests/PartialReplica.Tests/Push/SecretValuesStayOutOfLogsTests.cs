using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Tooling.Processes;

namespace PartialReplica.Tests.Push;

/// <summary>S3: a gateway and an agent logging at Trace level never write a secret value, its ciphertext, an API key (right or wrong) or a refused token.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SecretValuesStayOutOfLogsTests(ReplicationFixture fixture)
{
    private const string East = "conjur/followers/east-1";
    private const string Variable = "default:variable:apps/billing/db/password";

    [Fact]
    public async Task Neither_plaintext_nor_ciphertext_nor_keys_appear_in_any_log_line()
    {
        var canary = "CANARY-" + Guid.NewGuid().ToString("N");
        await using var world = await TestWorld.On(fixture)
            .DemoPolicy()
            .Secret(Variable, canary)
            .LogEverything()
            .ChildGateway("gw-logs")
            .Follower(East, 0, HostKind.ChildProcess)
            .StartAsync();
        var leader = world.Leader;
        var (gateway, agent, follower) = (world.GatewayProcess!, world.Agent(East), world.FollowerDb(East));
        var ciphertext = (await Db.ScalarAsync<byte[]>(leader, "SELECT value FROM secrets WHERE resource_id = $1 AND version = 1", Variable))!;

        // A second version after the follower is served, so the incremental path logs too.
        var second = world.Crypto.Encrypt(Encoding.UTF8.GetBytes(canary + "-2"), Variable);
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", Variable, second);
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets WHERE resource_id = $1", Variable) == 2,
            "both versions pushed");

        // Authentication failures and token refusals (issue 23): wrong keys, a real key presented for another login,
        // and forged tokens carrying a canary in every part, at the gateway and at the agent.
        var wrongKeys = Enumerable.Range(0, 3).Select(_ => "WRONG-KEY-" + Guid.NewGuid().ToString("N")).ToList();
        var followerKey = await world.ApiKeyAsync(East);
        var tokenCanary = "TOKEN-CANARY-" + Guid.NewGuid().ToString("N");
        var forgedTokens = await RefusalsAsync(gateway.Url, agent.Url, wrongKeys, followerKey, world.AdminApiKey, tokenCanary);

        var lines = gateway.Output.Concat(agent.Output).ToList();
        Assert.Contains(lines, l => l.Contains("Authentication refused", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Token refused", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("conjur/followers/east-1", StringComparison.Ordinal));
        string[] forbidden =
        [
            canary,
            Convert.ToBase64String(ciphertext), Convert.ToHexStringLower(ciphertext), Convert.ToHexString(ciphertext),
            Convert.ToBase64String(second), Convert.ToHexStringLower(second),
            world.AdminApiKey, followerKey, tokenCanary, .. wrongKeys, .. forgedTokens,
        ];
        foreach (var secret in forbidden)
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }

    /// <summary>Provokes each refusal and checks it happened; returns the forged tokens sent.</summary>
    private static async Task<string[]> RefusalsAsync(
        string gatewayUrl, string agentUrl, IEnumerable<string> wrongKeys, string followerKey, string adminKey, string canary)
    {
        using var http = new HttpClient();
        foreach (var (login, key) in wrongKeys.Select(k => ("host%2Fconjur%2Ffollowers%2Feast-1", k)).Append(("admin", followerKey)))
        {
            using var refused = await http.PostAsync($"{gatewayUrl}/authn/default/{login}/authenticate", new StringContent(key));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        string Part(object json) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(json));
        var claims = Part(new { iss = "partial-replica-gateway", aud = canary, sub = canary, exp = 4102444800 });
        string[] forged =
        [
            Part(new { alg = "ES256", kid = canary, jku = "http://" + canary }) + "." + claims + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(canary)),
            Part(new { alg = "none", kid = canary }) + "." + claims + ".",
            canary + "." + adminKey + "." + followerKey,
        ];
        foreach (var token in forged)
        {
            using var atGateway = new HttpRequestMessage(HttpMethod.Get, $"{gatewayUrl}/edge/secrets/default?count=true");
            atGateway.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var atAgent = new HttpRequestMessage(HttpMethod.Post, $"{agentUrl}/agent/batches") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            atAgent.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var gatewayAnswer = await http.SendAsync(atGateway);
            using var agentAnswer = await http.SendAsync(atAgent);
            Assert.Equal(HttpStatusCode.Unauthorized, gatewayAnswer.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, agentAnswer.StatusCode);
        }

        return forged;
    }
}
