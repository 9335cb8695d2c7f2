using System.Net;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>S2 and F4 at the edge: a follower sees exactly its granted secrets and learns nothing else.</summary>
[Collection(GatewayCollection.Name)]
public sealed class EdgeIsolationTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Follower_lists_exactly_its_granted_secrets_with_all_versions_as_stored_bytes()
    {
        var (a, b) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var prefix = GatewayFixture.Unique("iso");
        byte[] v1 = [0x47, 0, 1, 2, 0xff], v2 = [];
        await fixture.AddSecretAsync($"{prefix}/a", v1, v2);
        await fixture.AddSecretAsync($"{prefix}/b", [9]);
        await fixture.AddSecretAsync($"{prefix}/ungranted", [7]);
        await fixture.AddSecretAsync($"{prefix}/no-value-granted");
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [a], $"{prefix}/a", $"{prefix}/no-value-granted");
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [b], $"{prefix}/b");

        using var response = await fixture.GetAsync("/edge/secrets/default", a.Token);
        var page = await JsonAsync(response);

        var secret = Assert.Single(page.GetProperty("secrets").EnumerateArray());
        Assert.Equal(GatewayFixture.VariableId($"{prefix}/a"), secret.GetProperty("id").GetString());
        var versions = secret.GetProperty("versions").EnumerateArray().ToList();
        Assert.Equal([1, 2], versions.Select(v => v.GetProperty("version").GetInt32()));
        Assert.Equal(v1, versions[0].GetProperty("value").GetBytesFromBase64());
        Assert.Equal(v2, versions[1].GetProperty("value").GetBytesFromBase64());
        Assert.True(versions[0].TryGetProperty("expires_at", out _));
        Assert.Equal([GatewayFixture.VariableId($"{prefix}/b")], await IdsAsync(fixture, b.Token));
    }

    [Fact]
    public async Task Follower_cannot_read_another_followers_variable()
    {
        var (a, b) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var variable = GatewayFixture.Unique("only-b") + "/password";
        await fixture.AddSecretAsync(variable, [1, 2, 3]);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [b], variable);

        using var asA = await fixture.GetAsync($"/edge/secrets/default/{variable}", a.Token);
        using var asB = await fixture.GetAsync($"/edge/secrets/default/{variable}", b.Token);

        Assert.Equal(HttpStatusCode.NotFound, asA.StatusCode);
        var secret = await JsonAsync(asB);
        Assert.Equal([1, 2, 3], secret.GetProperty("versions")[0].GetProperty("value").GetBytesFromBase64());
    }

    [Fact]
    public async Task Non_granted_and_non_existent_variables_get_the_identical_answer()
    {
        var follower = await fixture.AddFollowerAsync();
        var existing = GatewayFixture.Unique("exists") + "/db password";
        await fixture.AddSecretAsync(existing, [42]);

        using var notGranted = await fixture.GetAsync($"/edge/secrets/default/{Uri.EscapeDataString(existing)}", follower.Token);
        using var missing = await fixture.GetAsync($"/edge/secrets/default/{Uri.EscapeDataString(existing + "-missing")}", follower.Token);

        Assert.Equal(HttpStatusCode.NotFound, notGranted.StatusCode);
        Assert.Equal(notGranted.StatusCode, missing.StatusCode);
        Assert.Equal(await missing.Content.ReadAsStringAsync(), await notGranted.Content.ReadAsStringAsync());
        Assert.Equal(missing.Content.Headers.ContentType, notGranted.Content.Headers.ContentType);
    }

    [Fact]
    public async Task Token_of_another_account_is_forbidden()
    {
        var follower = await fixture.AddFollowerAsync();
        using var response = await fixture.GetAsync("/edge/secrets/elsewhere", follower.Token);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Follower_in_the_full_set_gets_every_variable_with_a_value()
    {
        var follower = await fixture.AddFollowerAsync();
        var variable = GatewayFixture.Unique("full-only");
        await fixture.AddSecretAsync(variable, [5]);
        await fixture.GrantAsync("full", [follower]);

        using var response = await fixture.GetAsync($"/edge/secrets/default/{variable}", follower.Token);
        Assert.Equal(GatewayFixture.VariableId(variable), (await JsonAsync(response)).GetProperty("id").GetString());
    }
}
