using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Hosting;

/// <summary>
/// The gateway builds its data sources with the host's logger factory: Npgsql's own lines (a broken connection
/// included, with its exception) reach the host's providers, and none of them carries a parameter value, the leader
/// password, an API key, a token or key material (S3).
/// </summary>
public sealed class NpgsqlLogsTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Npgsql_logs_reach_the_gateway_logger_factory_without_secret_values()
    {
        var (leader, setup) = await fixture.CreateLeaderAsync();
        var leaderPassword = new NpgsqlConnectionStringBuilder(leader).Password;
        Assert.False(string.IsNullOrEmpty(leaderPassword));
        var (gateway, url) = await WebHosts.StartGatewayAsync(leader, new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Npgsql"] = "Trace",
            ["Logging:Console:LogLevel:Default"] = "None",
        });
        await using var _ = gateway;
        using var logs = new CapturedLogs();
        gateway.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);

        // Statements with secrets among their parameters: the admin's login (the API key checked) and a rotation of
        // its key (the new key stored encrypted).
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        string token;
        using (var login = await http.PostAsync("/authn/default/admin/authenticate", new StringContent(setup.AdminApiKey!, Encoding.UTF8, "text/plain")))
        {
            Assert.True(login.IsSuccessStatusCode, $"admin login answered {login.StatusCode}");
            token = (await login.Content.ReadAsStringAsync()).Trim();
        }

        string rotatedKey;
        using (var rotate = new HttpRequestMessage(HttpMethod.Put, "/authn/default/api_key") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } })
        using (var rotated = await http.SendAsync(rotate))
        {
            Assert.True(rotated.IsSuccessStatusCode, $"key rotation answered {rotated.StatusCode}");
            rotatedKey = (await rotated.Content.ReadAsStringAsync()).Trim();
        }

        // A real connection failure: the leader ends every session of the gateway (its LISTEN connections among them).
        Assert.True(await Db.ScalarAsync<long>(leader,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") > 0);
        await Eventually.HoldsAsync(() => Task.FromResult(logs.Entries.Any(e =>
                e.Category.StartsWith("Npgsql.", StringComparison.Ordinal) && e.Exception is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown })),
            "Npgsql's broken-connection line, with the server's error, in the gateway's logs");

        var entries = logs.Entries;
        Assert.Contains(entries, e => e.Category == "Npgsql.Command");
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("Npgsql.", StringComparison.Ordinal) && e.State.ContainsKey("Parameters"));
        string[] forbidden = [leaderPassword, setup.AdminApiKey!, rotatedKey, token, TestGatewayKey.Base64, TestDataKey.Base64];
        foreach (var entry in entries)
        {
            var text = string.Join('\n', [entry.Message, .. entry.State.Values.Select(v => Convert.ToString(v) ?? ""), entry.Exception?.ToString() ?? ""]);
            foreach (var secret in forbidden)
            {
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{entry.Category} event {entry.EventId.Id} holds a secret: {entry.Message}");
            }
        }
    }
}
