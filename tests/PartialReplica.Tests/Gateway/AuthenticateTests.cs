using System.Net;
using System.Text;
using PartialReplica.Authn;
using PartialReplica.Tests.Authn;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class AuthenticateTests(GatewayFixture fixture)
{
    [Fact]
    public async Task Admin_api_key_buys_an_ES256_token_with_kid_issuer_audience_subject_and_at_most_8_minutes()
    {
        var token = await fixture.AdminTokenAsync();

        var header = TestJwt.Header(token);
        var claims = TestJwt.Claims(token);
        Assert.Equal(["alg", "kid", "typ"], header.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("JWT", header.GetProperty("typ").GetString());
        Assert.False(string.IsNullOrEmpty(TestJwt.Kid(token)));
        Assert.Equal(GatewayFixture.Issuer, claims.GetProperty("iss").GetString());
        Assert.Equal(GatewayFixture.Issuer, claims.GetProperty("aud").GetString());
        Assert.Equal("default:user:admin", claims.GetProperty("sub").GetString());
        var expires = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("exp").GetInt64());
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(7), TimeSpan.FromMinutes(8));
        Assert.Equal(claims.GetProperty("iat").GetInt64(), claims.GetProperty("nbf").GetInt64());
    }

    [Fact]
    public async Task Host_login_is_url_encoded_like_conjur()
    {
        var follower = await fixture.AddFollowerAsync();

        // As curl -d sends it: form-urlencoded.
        using var response = await fixture.Http.PostAsync(
            $"/authn/default/{Uri.EscapeDataString("host/" + follower.Name)}/authenticate",
            new StringContent(follower.ApiKey, Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Equal(follower.RoleId, TestJwt.Claims(await response.Content.ReadAsStringAsync()).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task Wrong_key_and_unknown_login_get_the_same_401()
    {
        var follower = await fixture.AddFollowerAsync();

        using var wrongKey = await fixture.Http.PostAsync(
            $"/authn/default/{Uri.EscapeDataString("host/" + follower.Name)}/authenticate", new StringContent(ApiKeys.Generate()));
        using var unknown = await fixture.Http.PostAsync(
            $"/authn/default/{Uri.EscapeDataString("host/conjur/followers/nobody")}/authenticate", new StringContent(follower.ApiKey));
        using var otherAccount = await fixture.Http.PostAsync(
            $"/authn/elsewhere/{Uri.EscapeDataString("host/" + follower.Name)}/authenticate", new StringContent(follower.ApiKey));

        foreach (var response in new[] { wrongKey, unknown, otherAccount })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Another_process_validates_tokens_from_the_published_jwks()
    {
        var follower = await fixture.AddFollowerAsync();
        var jwks = new HttpJwksSource(fixture.Http, new Uri(fixture.Http.BaseAddress!, "/.well-known/jwks.json"), TimeProvider.System);
        var validator = new TokenValidator(jwks, GatewayFixture.Issuer, GatewayFixture.Issuer, TimeProvider.System);

        var validation = await validator.ValidateAsync(follower.Token, CancellationToken.None);

        Assert.True(validation.IsValid, validation.Failure);
        Assert.Equal(follower.RoleId, validation.Subject);
        var document = await fixture.Http.GetStringAsync("/.well-known/jwks.json");
        Assert.DoesNotContain("\"d\"", document, StringComparison.Ordinal);
        Assert.Contains(TestJwt.Kid(follower.Token), document, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_tokens_addressed_to_a_follower_validate_only_at_that_follower()
    {
        var east = await fixture.AddFollowerAsync();
        var west = await fixture.AddFollowerAsync();
        var push = await fixture.ForgingIssuer().CreateTokenAsync(
            "default:host:partial-replica-gateway", east.RoleId, TimeSpan.FromMinutes(2), CancellationToken.None);
        var jwks = new HttpJwksSource(fixture.Http, new Uri(fixture.Http.BaseAddress!, "/.well-known/jwks.json"), TimeProvider.System);

        var atEast = await new TokenValidator(jwks, GatewayFixture.Issuer, east.RoleId, TimeProvider.System).ValidateAsync(push, CancellationToken.None);
        var atWest = await new TokenValidator(jwks, GatewayFixture.Issuer, west.RoleId, TimeProvider.System).ValidateAsync(push, CancellationToken.None);

        Assert.True(atEast.IsValid, atEast.Failure);
        Assert.False(atWest.IsValid);
    }

    [Fact]
    public async Task Token_lifetime_over_8_minutes_is_refused_at_issue()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => fixture.ForgingIssuer().CreateTokenAsync(
            "default:user:admin", GatewayFixture.Issuer, TimeSpan.FromMinutes(9), CancellationToken.None));
        Assert.NotEmpty(Encoding.UTF8.GetBytes(await fixture.AdminTokenAsync()));
    }

    [Fact]
    public async Task Host_login_encoded_twice_is_refused_while_encoded_once_works()
    {
        var follower = await fixture.AddFollowerAsync();
        var once = Uri.EscapeDataString("host/" + follower.Name);
        var twice = Uri.EscapeDataString(once);
        Assert.Contains("%252F", twice, StringComparison.Ordinal);

        using var encodedTwice = await fixture.Http.PostAsync($"/authn/default/{twice}/authenticate", new StringContent(follower.ApiKey));
        using var encodedOnce = await fixture.Http.PostAsync($"/authn/default/{once}/authenticate", new StringContent(follower.ApiKey));

        Assert.Equal(HttpStatusCode.Unauthorized, encodedTwice.StatusCode);
        Assert.Equal(HttpStatusCode.OK, encodedOnce.StatusCode);
        Assert.Equal(follower.RoleId, TestJwt.Claims(await encodedOnce.Content.ReadAsStringAsync()).GetProperty("sub").GetString());
    }

    [Theory]
    [InlineData("host%2Fconjur%00east")]
    [InlineData("admin%00")]
    [InlineData("host%2Feast%01")]
    [InlineData("bad%0Aline")]
    public async Task A_login_no_Conjur_id_can_be_is_a_400_and_the_next_caller_is_served(string login)
    {
        var follower = await fixture.AddFollowerAsync();

        using var refused = await fixture.Http.PostAsync($"/authn/default/{login}/authenticate", new StringContent(follower.ApiKey));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(follower.RoleId, TestJwt.Claims(await fixture.AuthenticateAsync("host/" + follower.Name, follower.ApiKey)).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task A_login_with_NUL_is_refused_before_any_query()
    {
        // A leader nobody listens on: a handler that queried would fail with 500, not answer 400.
        var (gateway, url) = await WebHosts.StartGatewayAsync(
            "Host=127.0.0.1;Port=9;Database=nowhere;Username=nobody;Timeout=2", new Dictionary<string, string?> { ["Dispatch:Enabled"] = "false" });
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            using var withNul = await http.PostAsync("/authn/default/host%2Feast%00/authenticate", new StringContent(ApiKeys.Generate()));
            using var withControl = await http.PostAsync("/authn/default/host%2Feast%07/authenticate", new StringContent(ApiKeys.Generate()));
            using var ordinary = await http.PostAsync("/authn/default/host%2Feast/authenticate", new StringContent(ApiKeys.Generate()));

            Assert.Equal(HttpStatusCode.BadRequest, withNul.StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, withControl.StatusCode);
            Assert.Contains("control character", await withControl.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.InternalServerError, ordinary.StatusCode);
        }
        finally
        {
            await gateway.StopAsync();
            await gateway.DisposeAsync();
        }
    }
}
