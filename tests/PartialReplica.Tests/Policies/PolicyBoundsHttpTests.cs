using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using PartialReplica.Policies;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Policies;

/// <summary>
/// S4 through HTTP: the policy endpoints take bodies up to the policy size limit the CLI applies (not the gateway's
/// general request limit), refuse larger ones with 413 naming it, and refuse an alias bomb within a second with 422
/// and its place, changing nothing.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class PolicyBoundsHttpTests(GatewayFixture fixture)
{
    [Fact]
    public async Task A_policy_over_the_general_body_limit_but_within_the_policy_limit_loads()
    {
        var admin = await fixture.AdminTokenAsync();
        var prefix = GatewayFixture.Unique("big");
        var yaml = new StringBuilder();
        for (var i = 0; yaml.Length <= GatewayFixture.BodyLimit * 2; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"- !variable {prefix}/v{i:D6}\n");
        }

        using var response = await SendAsync(HttpMethod.Post, yaml.ToString(), admin);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(yaml.ToString().Count(c => c == '\n'), await Db.ScalarAsync<long>(fixture.Leader,
            "SELECT count(*) FROM resources WHERE starts_with(resource_id, $1)", $"default:variable:{prefix}/"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_policy_over_the_policy_limit_gets_413_naming_it(bool chunked)
    {
        var admin = await fixture.AdminTokenAsync();
        var before = await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions");
        var body = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("- !variable x\n", (PolicyLimits.MaxPolicyBytes / 14) + 1)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/policies/default/policy/root")
        {
            Content = chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body),
        };
        request.Headers.TransferEncodingChunked = chunked;
        // A declared length over the limit is refused before the body is read; the client waits for that answer.
        request.Headers.ExpectContinue = !chunked;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);

        using var response = await fixture.Http.SendAsync(request);

        var json = await JsonAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("The policy body is larger than the policy size limit of 4194304 bytes (4 MiB); split it into branches loaded one by one.",
            json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(before, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions"));
    }

    [Fact]
    public async Task Billion_laughs_dry_run_is_refused_within_a_second_with_its_place()
    {
        var admin = await fixture.AdminTokenAsync();
        var before = await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions");

        var clock = Stopwatch.StartNew();
        using var response = await SendAsync(HttpMethod.Patch, PolicyBoundsTests.BillionLaughs(), admin, "?dryRun=true");
        clock.Stop();

        var json = await JsonAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Matches(@"^policy:\d+:\d+: YAML aliases expand this policy past 100000 nodes", json.GetProperty("error").GetProperty("message").GetString());
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
        Assert.Equal(before, await Db.ScalarAsync<long>(fixture.Leader, "SELECT count(*) FROM policy_versions"));
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string yaml, string token, string query = "")
    {
        using var request = new HttpRequestMessage(method, $"/policies/default/policy/root{query}")
        {
            Content = new StringContent(yaml, Encoding.UTF8, "application/x-yaml"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await fixture.Http.SendAsync(request);
    }
}
