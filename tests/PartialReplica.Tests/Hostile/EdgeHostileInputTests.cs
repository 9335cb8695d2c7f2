using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Hostile;

[Collection(GatewayCollection.Name)]
public sealed class EdgeHostileInputTests(GatewayFixture fixture) : IAsyncLifetime
{
    private WebApplication? _gateway;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        (_gateway, var url) = await WebHosts.StartGatewayAsync(fixture.Leader + ";Maximum Pool Size=1", new Dictionary<string, string?>
        {
            ["Dispatch:Enabled"] = "false",
            ["Gateway:Issuer"] = GatewayFixture.Issuer,
        });
        _http = new HttpClient { BaseAddress = new Uri(url) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", $"token=\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(token))}\"");
        return await _http.SendAsync(request);
    }

    [Theory]
    [InlineData("?after=%00")]
    [InlineData("?after=a%00b&limit=5")]
    public async Task Repro(string query)
    {
        var (a, b) = (await fixture.AddFollowerAsync(), await fixture.AddFollowerAsync());
        var prefix = GatewayFixture.Unique("nul");
        await fixture.AddSecretAsync($"{prefix}/b", [1, 0, 2]);
        await fixture.GrantAsync(GatewayFixture.Unique("set"), [b], $"{prefix}/b");
        var log = new StringBuilder();
        for (var i = 0; i < 12; i++)
        {
            using var bad = await GetAsync("/edge/secrets/default" + query, a.Token);
            using var next = await GetAsync("/edge/secrets/default?after=a", b.Token);
            log.AppendLine($"{i}: bad {bad.StatusCode}, next {next.StatusCode} {await next.Content.ReadAsStringAsync()}");
        }

        Assert.Fail(log.ToString());
    }
}
