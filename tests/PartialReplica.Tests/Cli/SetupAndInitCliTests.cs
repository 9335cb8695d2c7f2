using System.Text.Json;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Cli;

public sealed class SetupAndInitCliTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Setup_and_follower_init_verbs_print_keys_once_as_json()
    {
        var leader = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "cli_leader");
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "cli_follower");
        var env = new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader };
        string[] password = fixture.OwnsServers ? [] : ["--relay", leader + "_relay"];

        var setup = await CliProcess.RunAsync(env, ["setup", "--json", .. password]);
        Assert.True(setup.ExitCode == 0, setup.Stderr);
        var adminKey = JsonDocument.Parse(setup.Stdout).RootElement.GetProperty("adminApiKey").GetString();
        Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, adminKey);

        var again = await CliProcess.RunAsync(env, ["setup", "--json", .. password]);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(again.Stdout).RootElement.GetProperty("adminApiKey").ValueKind);

        var init = await CliProcess.RunAsync(env, ["follower", "init", "--name", "conjur/followers/east-1", "--db", follower, "--json"]);
        Assert.True(init.ExitCode == 0, init.Stderr);
        var initJson = JsonDocument.Parse(init.Stdout).RootElement;
        Assert.Equal("conjur/followers/east-1", initJson.GetProperty("name").GetString());
        Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, initJson.GetProperty("apiKey").GetString());
        // Both keys stored as Conjur stores them, with the data key the CLI was given (CONJUR_DATA_KEY); no password hash.
        foreach (var (role, key) in new[] { ("default:user:admin", adminKey!), ("default:host:conjur/followers/east-1", initJson.GetProperty("apiKey").GetString()!) })
        {
            var stored = await Db.ScalarAsync<byte[]>(leader, "SELECT api_key FROM credentials WHERE role_id = $1", role);
            Assert.Equal(key, PartialReplica.Tests.Authn.ConjurBlob.Open(TestDataKey.Base64, role, stored!));
        }

        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM credentials WHERE encrypted_hash IS NOT NULL"));

        // The subscription is live: a role created now reaches the follower.
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:from-cli-test')");
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM roles WHERE role_id = 'default:user:from-cli-test'") == 1,
            "row replicated after CLI init");

        var rotate = await CliProcess.RunAsync(env, ["follower", "rotate-credentials", "--name", "conjur/followers/east-1", "--db", follower]);
        Assert.True(rotate.ExitCode == 0, rotate.Stderr);
        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:after-rotation')");
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM roles WHERE role_id = 'default:user:after-rotation'") == 1,
            "row replicated after the rotation");

        var remove = await CliProcess.RunAsync(env, ["follower", "remove", "--name", "conjur/followers/east-1", "--db", follower]);
        Assert.True(remove.ExitCode == 0, remove.Stderr);
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.followers"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"));
    }

    [Fact]
    public async Task Unreachable_leader_and_missing_configuration_fail_with_one_clear_line()
    {
        var missing = await CliProcess.RunAsync(null, "setup");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("PARTIALREPLICA_LEADER", missing.Stderr, StringComparison.Ordinal);

        var unreachable = await CliProcess.RunAsync(
            new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=3" },
            "setup");
        Assert.Equal(3, unreachable.ExitCode);
        Assert.StartsWith("error: cannot reach the database", unreachable.Stderr, StringComparison.Ordinal);
        Assert.Single(unreachable.Stderr.Trim().Split('\n'));

        var badUri = await CliProcess.RunAsync(null, "setup", "--leader", "postgresql://[broken");
        Assert.Equal(2, badUri.ExitCode);
        Assert.Contains("malformed", badUri.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Follower_init_without_a_name_is_rejected_before_touching_anything()
    {
        var leader = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "noname");
        var result = await CliProcess.RunAsync(new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader }, "follower", "init", "--db", leader);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--name", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_namespace WHERE nspname = 'partial_replica'"));
    }

}
