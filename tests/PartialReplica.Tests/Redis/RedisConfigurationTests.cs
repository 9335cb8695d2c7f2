using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Redis;

/// <summary>
/// F14 (issue 26): <c>Gateway:Redis</c> / <c>PARTIALREPLICA_REDIS</c> that is not a StackExchange.Redis configuration
/// string stops the gateway with one line naming both ways to set it (exit 2 from the CLI), never quoting the value,
/// which may hold a password.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class RedisConfigurationTests(GatewayFixture fixture)
{
    private const string Password = "hunter2-not-to-be-logged";

    [Fact]
    public async Task Serve_gateway_with_a_bad_PARTIALREPLICA_REDIS_prints_one_line_and_exits_2()
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string>
        {
            ["PARTIALREPLICA_LEADER"] = fixture.Leader,
            ["PARTIALREPLICA_GATEWAY_KEY"] = TestGatewayKey.Base64,
            ["CONJUR_DATA_KEY"] = TestDataKey.Base64,
            ["PARTIALREPLICA_REDIS"] = "127.0.0.1:6379,password=" + Password + ",ssl=perhaps",
        }, "serve", "gateway", "--urls", "http://127.0.0.1:0");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("PARTIALREPLICA_REDIS", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, result.Stdout + result.Stderr, StringComparison.Ordinal);
    }
}
