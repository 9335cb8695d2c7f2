using System.Net;
using Npgsql;

namespace PartialReplica.Tests.Gateway;

/// <summary>U4: health endpoints and the OpenAPI document.</summary>
[Collection(GatewayCollection.Name)]
public sealed class HealthAndOpenApiTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Live_and_ready_are_healthy_with_a_reachable_leader()
    {
        using var live = await fixture.Http.GetAsync("/health/live");
        using var ready = await fixture.Http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Ready_is_503_when_the_leader_is_unreachable_while_live_stays_200()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(fixture.Leader) { Port = 1, Timeout = 2 }.ConnectionString;
        await using var app = GatewayFixture.StartGateway(unreachable);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        using var live = await http.GetAsync("/health/live");
        using var ready = await http.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task OpenApi_document_describes_the_endpoints()
    {
        var document = await fixture.Http.GetStringAsync("/openapi/v1.json");
        foreach (var path in new[] { "/authn/{account}/{login}/authenticate", "/edge/secrets/{account}", "/followers", "/replica-sets", "/.well-known/jwks.json" })
        {
            Assert.Contains($"\"{path}\"", document, StringComparison.Ordinal);
        }
    }
}
