using System.Buffers.Text;
using System.Net;
using System.Text;

namespace PartialReplica.Tests.Gateway;

/// <summary>S2: only a valid, unexpired gateway token addressed to the gateway opens the API.</summary>
[Collection(GatewayCollection.Name)]
public sealed class TokenRejectionTests(GatewayFixture fixture)
{
    private const string Path = "/edge/secrets/default?count=true";

    [Fact]
    public async Task Valid_token_is_accepted()
    {
        var follower = await fixture.AddFollowerAsync();
        using var response = await fixture.GetAsync(Path, follower.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task No_token_gets_401()
    {
        using var response = await fixture.GetAsync(Path, null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Expired_token_gets_401()
    {
        var follower = await fixture.AddFollowerAsync();
        var now = DateTimeOffset.UtcNow;
        var expired = await fixture.ForgingIssuer().CreateTokenAsync(
            follower.RoleId, GatewayFixture.Issuer, now.AddMinutes(-10), now.AddMinutes(-2), CancellationToken.None);

        using var response = await fixture.GetAsync(Path, expired);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_whose_payload_was_changed_gets_401()
    {
        var follower = await fixture.AddFollowerAsync();
        var parts = follower.Token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])).Replace(follower.RoleId, "default:user:admin", StringComparison.Ordinal);
        var tampered = $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";

        using var response = await fixture.GetAsync("/followers", tampered);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Unsigned_alg_none_token_gets_401()
    {
        var follower = await fixture.AddFollowerAsync();
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(follower.Token.Split('.')[1]));
        var header = Base64Url.EncodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}"u8);

        using var withEmptySignature = await fixture.GetAsync(Path, $"{header}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.");
        using var withOldSignature = await fixture.GetAsync(Path, $"{header}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{follower.Token.Split('.')[2]}");

        Assert.Equal(HttpStatusCode.Unauthorized, withEmptySignature.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, withOldSignature.StatusCode);
    }

    [Fact]
    public async Task Token_for_another_audience_gets_401()
    {
        var follower = await fixture.AddFollowerAsync();
        var pushToken = await fixture.ForgingIssuer().CreateTokenAsync(
            follower.RoleId, follower.RoleId, TimeSpan.FromMinutes(5), CancellationToken.None);

        using var response = await fixture.GetAsync(Path, pushToken);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Token_from_another_issuer_gets_401()
    {
        var follower = await fixture.AddFollowerAsync();
        var foreign = await fixture.ForgingIssuer("someone-else").CreateTokenAsync(
            follower.RoleId, GatewayFixture.Issuer, TimeSpan.FromMinutes(5), CancellationToken.None);

        using var response = await fixture.GetAsync(Path, foreign);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Garbage_in_the_authorization_header_gets_401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Convert.ToBase64String(Encoding.UTF8.GetBytes("not a token")));
        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
