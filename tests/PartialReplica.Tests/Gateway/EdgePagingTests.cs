using System.Net;
using System.Text.Json;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>F7: offset and keyset paging agree, counts ignore the page, bad paging values are 400.</summary>
[Collection(GatewayCollection.Name)]
public sealed class EdgePagingTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Keyset_and_offset_paging_give_the_same_ordered_ids_and_count_ignores_limit()
    {
        var follower = await fixture.AddFollowerAsync();
        var prefix = GatewayFixture.Unique("page");
        // Ids whose bytewise order differs from a linguistic one: case, punctuation, unicode.
        string[] names = ["b", "B", "a-1", "a_1", "a/1", "Z", "é", "z z", "q'uote", "10", "9"];
        foreach (var name in names)
        {
            await fixture.AddSecretAsync($"{prefix}/{name}", [1]);
        }

        await fixture.GrantAsync(GatewayFixture.Unique("set"), [follower], names.Select(n => $"{prefix}/{n}").ToArray());

        var byOffset = new List<string>();
        for (var offset = 0; ; offset += 3)
        {
            var page = await IdsAsync(fixture, follower.Token, $"?limit=3&offset={offset}");
            byOffset.AddRange(page);
            if (page.Count < 3)
            {
                break;
            }
        }

        var byKeyset = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await IdsAsync(fixture, follower.Token, after is null ? "?limit=3" : $"?limit=3&after={Uri.EscapeDataString(after)}");
            byKeyset.AddRange(page);
            if (page.Count < 3)
            {
                break;
            }

            after = page[^1];
        }

        var expected = names.Select(n => GatewayFixture.VariableId($"{prefix}/{n}")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, byOffset);
        Assert.Equal(expected, byKeyset);
        using var count = await fixture.GetAsync("/edge/secrets/default?count=true&limit=2", follower.Token);
        Assert.Equal(names.Length, (await JsonAsync(count)).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Variables_without_values_are_skipped_and_keyset_pages_still_fill()
    {
        var follower = await fixture.AddFollowerAsync();
        var prefix = GatewayFixture.Unique("holes");
        string[] all = ["1", "2", "3", "4", "5", "6", "7"];
        string[] withValues = ["2", "6", "7"];
        foreach (var name in all)
        {
            await fixture.AddSecretAsync($"{prefix}/{name}", withValues.Contains(name) ? [[1]] : []);
        }

        await fixture.GrantAsync(GatewayFixture.Unique("set"), [follower], all.Select(n => $"{prefix}/{n}").ToArray());

        var first = await IdsAsync(fixture, follower.Token, "?limit=2");
        var second = await IdsAsync(fixture, follower.Token, $"?limit=2&after={Uri.EscapeDataString(first[^1])}");
        var byOffset = await IdsAsync(fixture, follower.Token, "?limit=2&offset=2");

        Assert.Equal([GatewayFixture.VariableId($"{prefix}/2"), GatewayFixture.VariableId($"{prefix}/6")], first);
        Assert.Equal([GatewayFixture.VariableId($"{prefix}/7")], second);
        Assert.Equal(second, byOffset);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=-1")]
    [InlineData("limit=10001")]
    [InlineData("limit=abc")]
    [InlineData("offset=-5")]
    [InlineData("count=maybe")]
    [InlineData("after=x&offset=2")]
    public async Task Bad_paging_values_get_400_with_a_message(string query)
    {
        var follower = await fixture.AddFollowerAsync();

        using var response = await fixture.GetAsync($"/edge/secrets/default?{query}", follower.Token);

        var body = await JsonAsync(response, HttpStatusCode.BadRequest);
        var message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(query.Split('=')[0], message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Limit_10000_is_accepted()
    {
        var follower = await fixture.AddFollowerAsync();
        using var max = await fixture.GetAsync("/edge/secrets/default?limit=10000", follower.Token);
        Assert.Equal(JsonValueKind.Array, (await JsonAsync(max)).GetProperty("secrets").ValueKind);
    }
}
