using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>S1: signing keys rotate without cutting off live tokens.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SigningKeyRotationTests(GatewayFixture fixture)
{
    [Fact]
    public async Task After_rotation_new_tokens_use_the_new_key_and_old_tokens_still_verify()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var ring = new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System);
        var issuer = new TokenIssuer(ring, "rotation-test", TimeProvider.System);
        var before = await issuer.CreateTokenAsync("default:user:admin", "rotation-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        var newKid = await ring.RotateAsync(CancellationToken.None);
        var after = await issuer.CreateTokenAsync("default:user:admin", "rotation-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        // A validator elsewhere that cached the keys before the rotation still accepts both.
        var otherRing = new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System);
        var validator = new TokenValidator(otherRing, "rotation-test", "rotation-test", TimeProvider.System);
        Assert.Equal(newKid, TestJwt.Kid(after));
        Assert.NotEqual(TestJwt.Kid(before), newKid);
        Assert.True((await validator.ValidateAsync(before, CancellationToken.None)).IsValid);
        Assert.True((await validator.ValidateAsync(after, CancellationToken.None)).IsValid);
        var jwks = await otherRing.GetJwksAsync(CancellationToken.None);
        Assert.Contains(jwks.Keys, k => k.KeyId == newKid);
        Assert.Contains(jwks.Keys, k => k.KeyId == TestJwt.Kid(before));
    }

    [Fact]
    public async Task Admin_rotates_the_gateways_key_over_the_api_and_earlier_tokens_keep_working()
    {
        var follower = await fixture.AddFollowerAsync();
        var admin = await fixture.AdminTokenAsync();
        using var asFollower = await PostAsync("/signing-keys/rotate", follower.Token);

        using var rotated = await PostAsync("/signing-keys/rotate", admin);
        var kid = System.Text.Json.JsonDocument.Parse(await rotated.Content.ReadAsStringAsync()).RootElement.GetProperty("kid").GetString();
        var fresh = await fixture.AuthenticateAsync("host/" + follower.Name, follower.ApiKey);
        using var withOldToken = await fixture.GetAsync("/edge/secrets/default?count=true", follower.Token);
        var jwks = await fixture.Http.GetStringAsync("/.well-known/jwks.json");

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, asFollower.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, withOldToken.StatusCode);
        Assert.Contains(kid!, jwks, StringComparison.Ordinal);
        Assert.Contains(TestJwt.Kid(follower.Token), jwks, StringComparison.Ordinal);
        Assert.Equal(kid, TestJwt.Kid(fresh));
    }

    private async Task<HttpResponseMessage> PostAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await fixture.Http.SendAsync(request);
    }
}
