using System.Net;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>The admin API: admin only, paged and counted like the edge.</summary>
[Collection(GatewayCollection.Name)]
public sealed class AdminApiTests(GatewayFixture fixture)
{
    [Theory]
    [InlineData("/followers")]
    [InlineData("/followers?count=true")]
    [InlineData("/replica-sets")]
    [InlineData("/followers/conjur/followers/x")]
    public async Task Non_admin_gets_403_and_no_token_401(string path)
    {
        var follower = await fixture.AddFollowerAsync();

        using var asFollower = await fixture.GetAsync(path, follower.Token);
        using var anonymous = await fixture.GetAsync(path, null);

        Assert.Equal(HttpStatusCode.Forbidden, asFollower.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Followers_page_in_name_order_and_count_ignores_limit()
    {
        await fixture.AddFollowerAsync();
        await fixture.AddFollowerAsync();
        var admin = await fixture.AdminTokenAsync();

        using var countResponse = await fixture.GetAsync("/followers?count=true&limit=1", admin);
        var count = (await JsonAsync(countResponse)).GetProperty("count").GetInt64();
        var names = new List<string>();
        for (var offset = 0; offset < count; offset += 2)
        {
            using var page = await fixture.GetAsync($"/followers?limit=2&offset={offset}", admin);
            names.AddRange((await JsonAsync(page)).GetProperty("followers").EnumerateArray().Select(f => f.GetProperty("name").GetString()!));
        }

        Assert.True(count >= 2);
        Assert.Equal(count, names.Count);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public async Task Replica_sets_list_their_follower_counts()
    {
        var (a, b) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var set = GatewayFixture.Unique("rs");
        await fixture.GrantAsync(set, [a, b]);
        var admin = await fixture.AdminTokenAsync();

        using var countResponse = await fixture.GetAsync("/replica-sets?count=true", admin);
        var count = (await JsonAsync(countResponse)).GetProperty("count").GetInt64();
        using var list = await fixture.GetAsync("/replica-sets?limit=10000", admin);
        var sets = (await JsonAsync(list)).GetProperty("replica_sets").EnumerateArray().ToList();

        Assert.Equal(count, sets.Count);
        var ours = Assert.Single(sets, s => s.GetProperty("name").GetString() == set);
        Assert.Equal($"default:webservice:conjur/replication-sets/{set}", ours.GetProperty("id").GetString());
        Assert.Equal(2, ours.GetProperty("followers").GetInt64());
    }

    [Fact]
    public async Task Follower_status_shows_sets_granted_count_slot_and_delivery()
    {
        var follower = await fixture.AddFollowerAsync();
        var set = GatewayFixture.Unique("st");
        var prefix = GatewayFixture.Unique("st");
        await fixture.GrantAsync(set, [follower], $"{prefix}/1", $"{prefix}/2", $"{prefix}/3");
        var admin = await fixture.AdminTokenAsync();

        using var response = await fixture.GetAsync($"/followers/{follower.Name}", admin);
        var status = await JsonAsync(response);
        using var encoded = await fixture.GetAsync($"/followers/{Uri.EscapeDataString(follower.Name)}", admin);
        using var missing = await fixture.GetAsync("/followers/conjur/followers/does-not-exist", admin);

        Assert.Equal(follower.Name, status.GetProperty("follower").GetProperty("name").GetString());
        Assert.Equal(3, status.GetProperty("granted").GetInt64());
        Assert.Equal([$"default:webservice:conjur/replication-sets/{set}"],
            status.GetProperty("replica_sets").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(0, status.GetProperty("delivery").GetProperty("last_change_id").GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, status.GetProperty("slot").ValueKind);
        Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Follower_status_reports_its_replication_slot_on_the_relay()
    {
        var follower = await fixture.AddFollowerAsync();
        var slot = await Infrastructure.Db.ScalarAsync<string>(fixture.Leader,
            "SELECT slot_name FROM partial_replica.followers WHERE name = $1", follower.Name);
        // Followers' slots live on the relay (S6), where setup made it beside the leader.
        var relay = new Npgsql.NpgsqlConnectionStringBuilder(fixture.Leader) { Database = PartialReplica.Leader.Relay.RelayNames.DefaultDatabase }.ConnectionString;
        await Infrastructure.Db.ExecuteAsync(relay, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot);
        try
        {
            using var response = await fixture.GetAsync($"/followers/{follower.Name}", await fixture.AdminTokenAsync());
            var reported = (await JsonAsync(response)).GetProperty("slot");

            Assert.Equal(slot, reported.GetProperty("name").GetString());
            Assert.False(reported.GetProperty("active").GetBoolean());
            Assert.True(reported.GetProperty("lag_bytes").GetInt64() >= 0);
        }
        finally
        {
            await Infrastructure.Db.ExecuteAsync(relay, "SELECT pg_drop_replication_slot($1)", slot);
        }
    }

    [Fact]
    public async Task Bad_paging_on_admin_lists_gets_400()
    {
        var admin = await fixture.AdminTokenAsync();
        using var badLimit = await fixture.GetAsync("/followers?limit=100000", admin);
        using var keyset = await fixture.GetAsync("/replica-sets?after=x", admin);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, keyset.StatusCode);
    }
}
