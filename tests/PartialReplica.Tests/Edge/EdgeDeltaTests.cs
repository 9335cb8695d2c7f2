using System.Net;
using System.Text.Json;
using Npgsql;
using PartialReplica.Leader.Capture;
using PartialReplica.Policies;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Edge;

/// <summary>
/// F13: <c>GET /edge/secrets/{account}?since=&lt;position&gt;</c> names exactly the caller's variables whose state
/// changed, with their current versions or a tombstone, pages, and answers 410 when the position cannot be answered.
/// </summary>
[Collection(EdgeDeltaCollection.Name)]
public sealed class EdgeDeltaTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Full_pull_gives_a_position_and_a_delta_without_changes_is_empty()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("a", "b");
        var client = new EdgeDeltaClient(fixture, follower.Token);
        await client.FullPullAsync(limit: 1);
        var first = client.Position!;

        var pages = new List<JsonElement>();
        Assert.True(await client.SyncAsync(limit: 100, pages: pages));

        var page = Assert.Single(pages);
        Assert.Empty(page.GetProperty("secrets").EnumerateArray());
        Assert.False(page.GetProperty("more").GetBoolean());
        Assert.True(Since(client.Position!) >= Since(first), $"{client.Position} is before {first}");
        Assert.Equal([Id(prefix, "a"), Id(prefix, "b")], client.Copy.Keys);
        Assert.Equal(EdgeDeltaClient.Render(await EdgeDeltaClient.TruthAsync(fixture.Leader, follower.RoleId)), client.Render());
    }

    [Fact]
    public async Task Secret_write_returns_that_variable_with_all_its_versions_and_nothing_unchanged()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("a", "b");
        var client = await PulledAsync(follower);

        await fixture.AddSecretAsync($"{prefix}/a", [0x47, 0, 9], [0x47, 1, 9]);
        var pages = new List<JsonElement>();
        Assert.True(await client.SyncAsync(limit: 100, pages: pages));

        var changed = Assert.Single(Assert.Single(pages).GetProperty("secrets").EnumerateArray());
        Assert.Equal(Id(prefix, "a"), changed.GetProperty("id").GetString());
        Assert.Equal([1, 2, 3], changed.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        Assert.Equal(new byte[] { 0x47, 1, 9 }, changed.GetProperty("versions")[2].GetProperty("value").GetBytesFromBase64());
        Assert.False(changed.TryGetProperty("deleted", out _));
        Assert.Equal(EdgeDeltaClient.Render(await EdgeDeltaClient.TruthAsync(fixture.Leader, follower.RoleId)), client.Render());
    }

    [Fact]
    public async Task Revoke_by_policy_gives_a_tombstone()
    {
        var follower = await fixture.AddFollowerAsync();
        var set = GatewayFixture.Unique("set");
        var prefix = GatewayFixture.Unique("pol");
        await EdgeDeltaClient.LoadPolicyAsync(fixture.Leader,
            EdgeDeltaClient.ReplicaSetPolicy(set, [follower]) + $"- !variable {prefix}/a\n- !variable {prefix}/b\n"
            + EdgeDeltaClient.ExecutePolicy("!permit", set, $"{prefix}/a") + EdgeDeltaClient.ExecutePolicy("!permit", set, $"{prefix}/b"),
            PolicyMode.Load);
        await fixture.AddSecretAsync($"{prefix}/a", [1]);
        await fixture.AddSecretAsync($"{prefix}/b", [2]);
        var client = await PulledAsync(follower);
        Assert.Equal(2, client.Copy.Count);

        await EdgeDeltaClient.LoadPolicyAsync(fixture.Leader, EdgeDeltaClient.ExecutePolicy("!deny", set, $"{prefix}/a"), PolicyMode.Update);

        // a's tombstone. b may come again unchanged when a transaction older than b's write was still open as the
        // position was taken (the position is the snapshot's xmin, server-wide): a re-send, never a tombstone.
        var changes = await ChangesAsync(client);
        Assert.Contains((Id(prefix, "a"), true), changes);
        Assert.All(changes.Where(c => c.Item1 != Id(prefix, "a")), c => Assert.Equal((Id(prefix, "b"), false), c));
        Assert.Equal([Id(prefix, "b")], client.Copy.Keys);
    }

    [Fact]
    public async Task Revoke_by_plain_sql_as_conjurs_loader_writes_it_gives_a_tombstone()
    {
        var (follower, prefix, set) = await GrantedWorldAsync("a", "b");
        var client = await PulledAsync(follower);

        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1 AND role_id = $2",
            Id(prefix, "b"), $"default:group:conjur/replication-sets/{set}/replicated-data");

        Assert.Equal([(Id(prefix, "b"), true)], await ChangesAsync(client));
        Assert.Equal([Id(prefix, "a")], client.Copy.Keys);
    }

    [Fact]
    public async Task Deleted_variable_gives_a_tombstone_and_one_never_granted_gives_nothing()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("a", "b");
        await fixture.AddSecretAsync($"{prefix}/never-granted", [3]);
        var client = await PulledAsync(follower);

        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM resources WHERE resource_id = ANY ($1)",
            (object)new[] { Id(prefix, "a"), Id(prefix, "never-granted") });

        // The variable the follower never held is not even named: a tombstone would tell it existed.
        // a's tombstone. b may come again unchanged when a transaction older than b's write was still open as the
        // position was taken (the position is the snapshot's xmin, server-wide): a re-send, never a tombstone.
        var changes = await ChangesAsync(client);
        Assert.Contains((Id(prefix, "a"), true), changes);
        Assert.All(changes.Where(c => c.Item1 != Id(prefix, "a")), c => Assert.Equal((Id(prefix, "b"), false), c));
        Assert.Equal([Id(prefix, "b")], client.Copy.Keys);
    }

    [Fact]
    public async Task Grant_makes_the_variable_appear_with_its_versions()
    {
        var (follower, prefix, set) = await GrantedWorldAsync("a");
        await fixture.AddSecretAsync($"{prefix}/late", [7], [8]);
        var client = await PulledAsync(follower);
        Assert.DoesNotContain(Id(prefix, "late"), client.Copy.Keys);

        await fixture.GrantAsync(set, [follower], $"{prefix}/late");

        Assert.Equal([(Id(prefix, "late"), false)], await ChangesAsync(client));
        Assert.Equal(["1|null|Bw==", "2|null|CA=="], client.Copy[Id(prefix, "late")]);
    }

    [Fact]
    public async Task Another_followers_changes_give_nothing()
    {
        var (follower, _, _) = await GrantedWorldAsync("a");
        var (other, otherPrefix, otherSet) = await GrantedWorldAsync("x", "y");
        var client = await PulledAsync(follower);

        await fixture.AddSecretAsync($"{otherPrefix}/x", [5]);
        await fixture.AddSecretAsync($"{otherPrefix}/new", [6]);
        await fixture.GrantAsync(otherSet, [other], $"{otherPrefix}/new");
        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1", Id(otherPrefix, "y"));
        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM resources WHERE resource_id = $1", Id(otherPrefix, "x"));

        Assert.Empty(await ChangesAsync(client));
        var otherClient = await PulledAsync(other);
        Assert.Equal([Id(otherPrefix, "new")], otherClient.Copy.Keys);
    }

    [Fact]
    public async Task A_large_delta_comes_in_pages_and_a_change_between_pages_is_not_lost()
    {
        var names = Enumerable.Range(0, 7).Select(i => $"v{i}").ToArray();
        var (follower, prefix, _) = await GrantedWorldAsync(names);
        var client = await PulledAsync(follower);
        foreach (var name in names)
        {
            await fixture.AddSecretAsync($"{prefix}/{name}", [9]);
        }

        var pages = new List<JsonElement>();
        var wrote = false;
        Assert.True(await client.SyncAsync(limit: 3, pages: pages, betweenPages: async () =>
        {
            // Written while the delta is half read: an id already sent, and one still to come.
            if (!wrote)
            {
                wrote = true;
                await fixture.AddSecretAsync($"{prefix}/v0", [10]);
                await fixture.AddSecretAsync($"{prefix}/v6", [11]);
            }
        }));

        Assert.Equal([true, true, false], pages.Select(p => p.GetProperty("more").GetBoolean()));
        Assert.Equal(names.Select(n => Id(prefix, n)), pages.SelectMany(p => p.GetProperty("secrets").EnumerateArray()).Select(s => s.GetProperty("id").GetString()));
        // v0 changed after it was sent: the next delta brings it.
        Assert.Equal([(Id(prefix, "v0"), false), (Id(prefix, "v6"), false)], await ChangesAsync(client));
        Assert.Equal(EdgeDeltaClient.Render(await EdgeDeltaClient.TruthAsync(fixture.Leader, follower.RoleId)), client.Render());
    }

    [Fact]
    public async Task Write_that_commits_after_the_position_with_a_lower_transaction_number_is_in_the_next_delta()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("early", "late");
        await using var early = new NpgsqlConnection(fixture.Leader);
        await early.OpenAsync();
        await using var transaction = await early.BeginTransactionAsync();
        // The earlier-numbered transaction writes first and stays open while a later one commits.
        await using (var write = new NpgsqlCommand("INSERT INTO secrets (resource_id, value) VALUES ($1, '\\x0e')", early, transaction))
        {
            write.Parameters.AddWithValue(Id(prefix, "early"));
            await write.ExecuteNonQueryAsync();
        }

        await fixture.AddSecretAsync($"{prefix}/late", [0x0f]);
        var client = await PulledAsync(follower);
        Assert.Equal(["1|null|AQ==", "2|null|Dw=="], client.Copy[Id(prefix, "late")]);
        Assert.Equal(["1|null|AQ=="], client.Copy[Id(prefix, "early")]);

        await transaction.CommitAsync();

        // The late-committing write is not behind the position; the later one already pulled is sent again (idempotent).
        Assert.Contains((Id(prefix, "early"), false), await ChangesAsync(client));
        Assert.Equal(["1|null|AQ==", "2|null|Dg=="], client.Copy[Id(prefix, "early")]);
        Assert.Equal(EdgeDeltaClient.Render(await EdgeDeltaClient.TruthAsync(fixture.Leader, follower.RoleId)), client.Render());
    }

    [Fact]
    public async Task Position_before_a_prune_of_later_changes_gets_410_with_the_instruction()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("a");
        var client = await PulledAsync(follower);
        await fixture.AddSecretAsync($"{prefix}/a", [4]);

        // Every registered follower's cursor past the write, then the prune the dispatcher runs.
        await Db.ExecuteAsync(fixture.Leader, """
            UPDATE partial_replica.delivery
               SET (last_tx, last_change_id) = (SELECT c.tx, c.change_id FROM partial_replica.changes c ORDER BY c.tx DESC, c.change_id DESC LIMIT 1)
            """);
        await using (var leader = NpgsqlDataSource.Create(fixture.Leader))
        {
            Assert.True(await new OutboxReader(leader).PruneAsync(CancellationToken.None) > 0);
        }

        using var response = await fixture.GetAsync($"/edge/secrets/default?since={Uri.EscapeDataString(client.Position!)}", follower.Token);
        var error = (await JsonAsync(response, HttpStatusCode.Gone)).GetProperty("error");
        Assert.Equal("gone", error.GetProperty("code").GetString());
        Assert.Contains("pull the full list", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // The full pull starts over, and its position answers again.
        await client.FullPullAsync(limit: 10);
        Assert.Equal(["1|null|AQ==", "2|null|BA=="], client.Copy[Id(prefix, "a")]);
        Assert.Empty(await ChangesAsync(client));
    }

    [Fact]
    public async Task Position_from_before_the_followers_registration_gets_410()
    {
        var (follower, prefix, _) = await GrantedWorldAsync("a");
        var client = await PulledAsync(follower);

        // Removed (its grant rows stop) and registered again.
        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM partial_replica.followers WHERE name = $1", follower.Name);
        await Db.ExecuteAsync(fixture.Leader, "DELETE FROM permissions WHERE privilege = 'execute' AND resource_id = $1", Id(prefix, "a"));
        await Db.ExecuteAsync(fixture.Leader, "INSERT INTO partial_replica.followers (name, role_id, slot_name) VALUES ($1, $2, $3)",
            follower.Name, follower.RoleId, "pr_" + Guid.NewGuid().ToString("N"));
        await Db.ExecuteAsync(fixture.Leader, "INSERT INTO partial_replica.delivery (follower) VALUES ($1)", follower.Name);

        // Removing the follower revoked its tokens (the leader baseline): it authenticates again, and its old position is gone.
        client.Token = await fixture.AuthenticateAsync("host/" + follower.Name, follower.ApiKey);
        Assert.False(await client.SyncAsync(limit: 10));
        await client.FullPullAsync(limit: 10);
        Assert.Empty(client.Copy);
        Assert.True(await client.SyncAsync(limit: 10));
    }

    [Fact]
    public async Task Caller_that_is_not_a_registered_follower_gets_a_null_position_and_410()
    {
        var admin = await fixture.AdminTokenAsync();

        using var full = await fixture.GetAsync("/edge/secrets/default?limit=1", admin);
        Assert.Equal(JsonValueKind.Null, (await JsonAsync(full)).GetProperty("position").ValueKind);
        using var delta = await fixture.GetAsync("/edge/secrets/default?since=v1.3", admin);
        Assert.Contains("registered followers", (await JsonAsync(delta, HttpStatusCode.Gone)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Position_the_leader_has_not_reached_gets_410()
    {
        var follower = await fixture.AddFollowerAsync();
        using var response = await fixture.GetAsync($"/edge/secrets/default?since=v1.{long.MaxValue}", follower.Token);
        await JsonAsync(response, HttpStatusCode.Gone);
    }

    [Theory]
    [InlineData("")]
    [InlineData("12345")]
    [InlineData("v1.")]
    [InlineData("v1.0")]
    [InlineData("v1.012")]
    [InlineData("v1.-5")]
    [InlineData("v1.+5")]
    [InlineData("v1.99999999999999999999")]
    [InlineData("v2.5")]
    [InlineData("v1.5.6")]
    [InlineData("v1.6.5.YQ")]
    [InlineData("v1.5.6.YQ==")]
    [InlineData("v1.5.6.Yq")]
    [InlineData("v1.5.6.AA")]
    [InlineData("v1.5.6.!!")]
    [InlineData("v1.5.6.YQ.x")]
    [InlineData("v1.5\0")]
    public async Task Bad_position_gets_400_naming_since(string since)
    {
        var follower = await fixture.AddFollowerAsync();

        using var response = await fixture.GetAsync($"/edge/secrets/default?since={Uri.EscapeDataString(since)}", follower.Token);

        var message = (await JsonAsync(response, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString()!;
        Assert.StartsWith("since is refused", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Huge_position_gets_400_without_its_text()
    {
        var follower = await fixture.AddFollowerAsync();
        var huge = "v1.5.6." + new string('Q', 6_000);

        using var response = await fixture.GetAsync($"/edge/secrets/default?since={huge}", follower.Token);

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("since", body, StringComparison.Ordinal);
        Assert.DoesNotContain("QQQQ", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("offset=0")]
    [InlineData("after=x")]
    [InlineData("count=true")]
    [InlineData("limit=0")]
    public async Task Since_with_other_paging_or_a_bad_limit_gets_400(string query)
    {
        var follower = await fixture.AddFollowerAsync();
        var client = await PulledAsync(follower);

        using var response = await fixture.GetAsync($"/edge/secrets/default?since={client.Position}&{query}", follower.Token);

        var message = (await JsonAsync(response, HttpStatusCode.BadRequest)).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(query.Split('=')[0], message, StringComparison.Ordinal);
    }

    private static string Id(string prefix, string name) => GatewayFixture.VariableId($"{prefix}/{name}");

    private static long Since(string position) => long.Parse(position.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A follower granted variables (each with one value) through a replica set of its own.</summary>
    private async Task<(TestFollower Follower, string Prefix, string Set)> GrantedWorldAsync(params string[] names)
    {
        var follower = await fixture.AddFollowerAsync();
        var prefix = GatewayFixture.Unique("delta");
        var set = GatewayFixture.Unique("set");
        foreach (var name in names)
        {
            await fixture.AddSecretAsync($"{prefix}/{name}", [1]);
        }

        await fixture.GrantAsync(set, [follower], names.Select(n => $"{prefix}/{n}").ToArray());
        return (follower, prefix, set);
    }

    private async Task<EdgeDeltaClient> PulledAsync(TestFollower follower)
    {
        var client = new EdgeDeltaClient(fixture, follower.Token);
        await client.FullPullAsync(limit: 1000);
        return client;
    }

    /// <summary>The next delta's entries as (id, deleted), applied to the client.</summary>
    private static async Task<List<(string, bool)>> ChangesAsync(EdgeDeltaClient client)
    {
        var pages = new List<JsonElement>();
        Assert.True(await client.SyncAsync(limit: 1000, pages: pages), "the delta was answered 410");
        return pages.SelectMany(p => p.GetProperty("secrets").EnumerateArray())
            .Select(s => (s.GetProperty("id").GetString()!, s.TryGetProperty("deleted", out var d) && d.GetBoolean()))
            .ToList();
    }
}
