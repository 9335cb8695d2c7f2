using System.Net;
using System.Net.Http.Headers;
using System.Text;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>POST/PUT/PATCH /policies/{account}/policy/{branch}: admin only, Conjur's result shape, bad input changes nothing.</summary>
[Collection(GatewayCollection.Name)]
public sealed class PolicyApiTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Admin_load_returns_created_roles_with_api_keys_and_the_version()
    {
        var branch = GatewayFixture.Unique("api");
        var admin = await fixture.AdminTokenAsync();
        using var create = await SendAsync(HttpMethod.Post, "root", $"- !policy\n  id: {branch}\n  body: []\n", admin);
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);

        using var load = await SendAsync(HttpMethod.Post, branch, "- !host app-1\n- !variable db/password\n", admin);

        Assert.Equal(HttpStatusCode.Created, load.StatusCode);
        var json = await JsonAsync(load, HttpStatusCode.Created);
        var hostId = $"default:host:{branch}/app-1";
        var created = json.GetProperty("created_roles").GetProperty(hostId);
        Assert.Equal(hostId, created.GetProperty("id").GetString());
        Assert.Matches(PartialReplica.Conjur.ConjurApiKey.ShapePattern, created.GetProperty("api_key").GetString());
        Assert.Equal(1, json.GetProperty("version").GetInt32());
        Assert.Equal(1L, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM resources WHERE resource_id = $1", $"default:variable:{branch}/db/password"));
    }

    [Fact]
    public async Task Dry_run_and_malformed_yaml_change_nothing()
    {
        var admin = await fixture.AdminTokenAsync();
        var name = GatewayFixture.Unique("dry");
        var before = await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions");

        using var dry = await SendAsync(HttpMethod.Post, "root", $"- !variable {name}\n", admin, "?dryRun=true");
        using var malformed = await SendAsync(HttpMethod.Put, "root", "- !variable [unclosed\n", admin);
        using var unknownTag = await SendAsync(HttpMethod.Patch, "root", $"- !nonsense {name}\n", admin);

        Assert.Equal(HttpStatusCode.OK, dry.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknownTag.StatusCode);
        Assert.Contains("policy:1:", (await JsonAsync(unknownTag, HttpStatusCode.UnprocessableEntity)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM resources WHERE resource_id = $1", $"default:variable:{name}"));
    }

    [Fact]
    public async Task Non_admin_gets_403_and_no_token_401()
    {
        var follower = await fixture.AddFollowerAsync();
        using var asFollower = await SendAsync(HttpMethod.Post, "root", "- !variable x\n", follower.Token);
        using var anonymous = await SendAsync(HttpMethod.Post, "root", "- !variable x\n", null);
        Assert.Equal(HttpStatusCode.Forbidden, asFollower.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string branch, string yaml, string? token, string query = "")
    {
        using var request = new HttpRequestMessage(method, $"/policies/default/policy/{branch}{query}")
        {
            Content = new StringContent(yaml, Encoding.UTF8, "application/x-yaml"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await fixture.Http.SendAsync(request);
    }
}
