using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Crypto;
using PartialReplica.Followers;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Push;

/// <summary>S3: a gateway and an agent logging at Trace level never write a secret value, its ciphertext or an API key.</summary>
public sealed class SecretValuesStayOutOfLogsTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    private const string Variable = "default:variable:apps/billing/db/password";

    [Fact]
    public async Task Neither_plaintext_nor_ciphertext_nor_keys_appear_in_any_log_line()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();
        var policy = await ReplicationFixture.LoadDemoPolicyAsync(leader);

        var crypto = Slosilo.FromBase64Key(Slosilo.GenerateBase64Key());
        var canary = "CANARY-" + Guid.NewGuid().ToString("N");
        var ciphertext = crypto.Encrypt(Encoding.UTF8.GetBytes(canary), Variable);
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", Variable, ciphertext);

        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "logs");
        await using var gateway = ChildHost.Gateway(leader, "gw-logs").LogEverything();
        await gateway.StartAsync();
        await using var agent = ChildHost.Agent("conjur/followers/east-1", follower, gateway.Url, ChildHost.FreePort()).LogEverything();
        await using (var followerSource = NpgsqlDataSource.Create(follower))
        {
            await new FollowerInit(NullLogger.Instance).RunAsync(leader, followerSource,
                new FollowerInitOptions { DataKey = TestDataKey.Key, Name = "conjur/followers/east-1", AgentUrl = agent.Url }, CancellationToken.None);
        }

        await agent.StartAsync();

        // A second version after the follower is served, so the incremental path logs too.
        var second = crypto.Encrypt(Encoding.UTF8.GetBytes(canary + "-2"), Variable);
        await Db.ExecuteAsync(leader, "INSERT INTO secrets (resource_id, value) VALUES ($1, $2)", Variable, second);
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets WHERE resource_id = $1", Variable) == 2,
            "both versions pushed");

        var lines = gateway.Output.Concat(agent.Output).ToList();
        Assert.Contains(lines, l => l.Contains("conjur/followers/east-1", StringComparison.Ordinal));
        string[] forbidden =
        [
            canary,
            Convert.ToBase64String(ciphertext), Convert.ToHexStringLower(ciphertext), Convert.ToHexString(ciphertext),
            Convert.ToBase64String(second), Convert.ToHexStringLower(second),
            setup.AdminApiKey!, policy.CreatedRoles["default:host:conjur/followers/east-1"].ApiKey!,
        ];
        foreach (var secret in forbidden)
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }
}
