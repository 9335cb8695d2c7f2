using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using PartialReplica.Conjur;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

/// <summary>The operator's verbs, run as the real binary against real servers and a running gateway.</summary>
[Collection(LeaderServersCollection.Name)]
public sealed class OperatorVerbsCliTests(ReplicationFixture fixture) : IAsyncLifetime
{
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
    public async Task Load_replicate_status_secret_and_notify_work_end_to_end()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await ReplicationFixture.LoadDemoPolicyAsync(leader);

        var (gateway, gatewayUrl) = await WebHosts.StartGatewayAsync(leader);
        _apps.Add(gateway);
        var east = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "cli_east");
        var (agent, agentUrl) = await WebHosts.StartAgentAsync("conjur/followers/east-1", east, gatewayUrl);
        _apps.Add(agent);
        var key = Slosilo.GenerateBase64Key();
        var env = new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader, ["CONJUR_DATA_KEY"] = key };

        var init = await CliProcess.RunAsync(env, "follower", "init", "--name", "conjur/followers/east-1", "--db", east, "--agent-url", agentUrl);
        Assert.True(init.ExitCode == 0, init.Stderr);

        var load = await CliProcess.RunAsync(env, "load", "--count", "40", "--prefix", "cli", "--replica-set", "east");
        Assert.True(load.ExitCode == 0, load.Stderr);
        Assert.Contains("Loaded 40 variables", load.Stdout, StringComparison.Ordinal);
        Assert.Equal(40L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets WHERE resource_id LIKE 'default:variable:cli/%'"));

        var replicate = await CliProcess.RunAsync(env, "replicate", "--all", "--timeout", "120");
        Assert.True(replicate.ExitCode == 0, replicate.Stdout + replicate.Stderr);

        var status = await CliProcess.RunAsync(env, "status", "--json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        var row = Assert.Single(JsonDocument.Parse(status.Stdout).RootElement.GetProperty("followers").EnumerateArray());
        Assert.Equal("conjur/followers/east-1", row.GetProperty("name").GetString());
        // The demo policy's three east variables have no values yet: 40 loaded ones are deliverable.
        var granted = await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM partial_replica.granted_variables('default:host:conjur/followers/east-1') g WHERE EXISTS (SELECT 1 FROM secrets s WHERE s.resource_id = g.resource_id)");
        Assert.Equal(40L, granted);
        Assert.Equal(granted, row.GetProperty("granted").GetInt64());
        Assert.Equal(await Db.ScalarAsync<long>(east, "SELECT count(DISTINCT resource_id) FROM secrets"), row.GetProperty("delivered").GetInt64());
        Assert.Equal("streaming", row.GetProperty("subscription").GetString());

        var set = await CliProcess.RunAsync(env, "secret", "set", "apps/billing/db/password", "--value", "s3cr3t-ü");
        Assert.True(set.ExitCode == 0, set.Stderr);
        await Eventually.HoldsAsync(async () =>
            (await CliProcess.RunAsync(env, "secret", "get", "apps/billing/db/password", "--db", east)).Stdout == "s3cr3t-ü",
            "new value readable on the follower with the data key");
        var fromLeader = await CliProcess.RunAsync(env, "secret", "get", "default:variable:apps/billing/db/password");
        Assert.Equal("s3cr3t-ü", fromLeader.Stdout);

        var requeue = await CliProcess.RunAsync(env, "notify", "--resource", "default:variable:cli/v000001");
        Assert.Equal(0, requeue.ExitCode);
        var unknown = await CliProcess.RunAsync(env, "notify", "--follower", "conjur/followers/nobody");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("Unknown follower", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Secret_verbs_fail_clearly_without_a_data_key_or_variable_and_change_nothing()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var before = await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets");

        var noKey = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader, ["CONJUR_DATA_KEY"] = "" }, "secret", "set", "x", "--value", "v");
        var badKey = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader, ["CONJUR_DATA_KEY"] = "c2hvcnQ=" }, "secret", "set", "x", "--value", "v");
        var noVariable = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader, ["CONJUR_DATA_KEY"] = Slosilo.GenerateBase64Key() }, "secret", "set", "not/defined", "--value", "v");

        Assert.Equal(2, noKey.ExitCode);
        Assert.Contains("CONJUR_DATA_KEY", noKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, badKey.ExitCode);
        Assert.Contains("32", badKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, noVariable.ExitCode);
        Assert.Contains("does not exist", noVariable.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\"v\"", noVariable.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM secrets"));
    }
}
