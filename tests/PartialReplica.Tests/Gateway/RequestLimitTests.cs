using System.Net;
using static PartialReplica.Tests.Gateway.EdgeResponses;

namespace PartialReplica.Tests.Gateway;

/// <summary>S4: oversized bodies are refused with 413 and a message naming the limit.</summary>
[Collection(GatewayCollection.Name)]
public sealed class RequestLimitTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Oversized_body_gets_413_with_the_limit_in_the_message()
    {
        using var response = await fixture.Http.PostAsync("/authn/default/admin/authenticate",
            new ByteArrayContent(new byte[GatewayFixture.BodyLimit + 1]));

        var body = await JsonAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains(GatewayFixture.BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_chunked_body_gets_413()
    {
        var content = new StreamContent(new MemoryStream(new byte[GatewayFixture.BodyLimit * 2]));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/authn/default/admin/authenticate") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await fixture.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
