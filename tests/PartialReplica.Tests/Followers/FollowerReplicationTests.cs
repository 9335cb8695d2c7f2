using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Followers;

public sealed class FollowerReplicationTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task Rows_written_to_published_tables_appear_on_two_followers()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var (east, _) = await fixture.CreateFollowerAsync(leader, 0, "conjur/followers/east-1");
        var (west, _) = await fixture.CreateFollowerAsync(leader, 1, "conjur/followers/west-1");

        await Db.ExecuteAsync(leader, """
            INSERT INTO roles (role_id) VALUES ('default:group:ops');
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:prod/db/password', 'default:group:ops');
            INSERT INTO annotations (resource_id, name, value) VALUES ('default:variable:prod/db/password', 'description', 'ünïcode "quoted"');
            """);

        foreach (var follower in new[] { east, west })
        {
            await Eventually.HoldsAsync(
                async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM annotations WHERE resource_id = 'default:variable:prod/db/password'") == 1,
                "annotation replicated");
            Assert.Equal("ünïcode \"quoted\"", await Db.ScalarAsync<string>(follower, "SELECT value FROM annotations WHERE name = 'description'"));
            Assert.Equal("default:group:ops", await Db.ScalarAsync<string>(follower, "SELECT owner_id FROM resources WHERE resource_id = 'default:variable:prod/db/password'"));
            Assert.Equal(1L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM roles WHERE role_id = 'default:group:ops'"));
            // The text search row is filled by a trigger on the leader and arrives as a replicated table.
            Assert.Equal(1L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM resources_textsearch WHERE resource_id = 'default:variable:prod/db/password'"));
        }

        // Deletes replicate too, including policy_log, which has no key (REPLICA IDENTITY FULL).
        await Db.ExecuteAsync(leader, """
            INSERT INTO policy_versions (resource_id, role_id, version, policy_text, policy_sha256) VALUES ('default:policy:root', 'default:user:admin', 0, '', '');
            INSERT INTO policy_log (policy_id, version, operation, kind, subject) VALUES ('default:policy:root', 1, 'INSERT', 'roles', 'role_id=>x');
            DELETE FROM annotations WHERE resource_id = 'default:variable:prod/db/password';
            """);
        foreach (var follower in new[] { east, west })
        {
            await Eventually.HoldsAsync(
                async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM annotations") == 0
                    && await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM policy_log") == 1,
                "delete and policy_log replicated");
        }
    }

    [Fact]
    public async Task A_secret_row_never_reaches_a_follower_through_the_subscription()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        await Db.ExecuteAsync(leader, """
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:before', 'default:user:admin');
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:before', '\x4701'::bytea);
            """);
        var (follower, _) = await fixture.CreateFollowerAsync(leader, 0, "conjur/followers/east-1");

        await Db.ExecuteAsync(leader, """
            INSERT INTO secrets (resource_id, value) VALUES ('default:variable:before', '\x4702'::bytea);
            INSERT INTO resources (resource_id, owner_id) VALUES ('default:variable:marker', 'default:user:admin');
            """);

        // The marker was committed after the secret, and a subscription applies in commit order: once it
        // is there, the secret would be too if it were replicated.
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM resources WHERE resource_id = 'default:variable:marker'") == 1,
            "marker replicated");
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));
        Assert.Equal(2L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM resources WHERE resource_id LIKE 'default:variable:%'"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower,
            "SELECT count(*) FROM pg_subscription_rel sr JOIN pg_class c ON c.oid = sr.srrelid WHERE c.relname = 'secrets'"));
    }

    [Fact]
    public async Task Follower_init_twice_keeps_one_slot_one_subscription_and_prints_the_key_once()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var (follower, first) = await fixture.CreateFollowerAsync(leader, 0, "conjur/followers/east-1");
        var second = await ReplicationFixture.InitFollowerAsync(leader, follower, "conjur/followers/east-1");

        Assert.Equal("pr_conjur_followers_east_1", first.SlotName);
        Assert.Equal(first.SlotName, second.SlotName);
        Assert.NotNull(first.ApiKey);
        Assert.Null(second.ApiKey);
        Assert.Equal("default:host:conjur/followers/east-1", first.RoleId);
        Assert.Equal(1L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM partial_replica.followers"));
        Assert.Equal(1L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM roles WHERE role_id = 'default:host:conjur/followers/east-1'"));
        Assert.Equal(1L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM pg_subscription WHERE subname = 'pr_conjur_followers_east_1' AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"));
        Assert.Equal(1L, await Db.ScalarAsync<long>(leader, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pr_conjur_followers_east_1'"));
    }

    [Fact]
    public async Task Followers_whose_names_sanitise_alike_get_distinct_slots_and_both_replicate()
    {
        var (leader, _) = await fixture.CreateLeaderAsync();
        var (dash, dashInit) = await fixture.CreateFollowerAsync(leader, 0, "conjur/followers/east-1");
        var (underscore, underscoreInit) = await fixture.CreateFollowerAsync(leader, 1, "conjur/followers/east_1");

        Assert.Equal("pr_conjur_followers_east_1", dashInit.SlotName);
        Assert.NotEqual(dashInit.SlotName, underscoreInit.SlotName);
        Assert.StartsWith("pr_conjur_followers_east_1_", underscoreInit.SlotName, StringComparison.Ordinal);

        await Db.ExecuteAsync(leader, "INSERT INTO roles (role_id) VALUES ('default:user:after-both')");
        foreach (var follower in new[] { dash, underscore })
        {
            await Eventually.HoldsAsync(
                async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM roles WHERE role_id = 'default:user:after-both'") == 1,
                "row replicated to both followers");
        }

        Assert.Equal(2L, await Db.ScalarAsync<long>(leader,
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pr_conjur_followers_east_1%' AND active"));
    }

    [Fact]
    public async Task Follower_init_before_setup_fails_with_a_clear_message_and_changes_nothing()
    {
        var leader = await fixture.CreateDatabaseAsync(fixture.LeaderServer, "bare");
        var follower = await fixture.CreateDatabaseAsync(fixture.FollowerServers[0], "follower");

        var error = await Assert.ThrowsAsync<PartialReplicaException>(() => ReplicationFixture.InitFollowerAsync(leader, follower, "conjur/followers/east-1"));

        Assert.Contains("partial-replica setup", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM pg_tables WHERE tablename = 'roles'"));
    }
}
