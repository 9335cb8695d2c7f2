using Microsoft.IdentityModel.JsonWebTokens;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;

namespace PartialReplica.Tests.Authn;

/// <summary>S1: signing keys rotate without cutting off live tokens.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SigningKeyRotationTests(GatewayFixture fixture)
{
    [Fact]
    public async Task After_rotation_new_tokens_use_the_new_key_and_old_tokens_still_verify()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var ring = new SigningKeyRing(leader, TimeProvider.System);
        var issuer = new TokenIssuer(ring, "rotation-test", TimeProvider.System);
        var before = await issuer.CreateTokenAsync("default:user:admin", "rotation-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        var newKid = await ring.RotateAsync(CancellationToken.None);
        var after = await issuer.CreateTokenAsync("default:user:admin", "rotation-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        // A validator elsewhere that cached the keys before the rotation still accepts both.
        var otherRing = new SigningKeyRing(leader, TimeProvider.System);
        var validator = new TokenValidator(otherRing, "rotation-test", "rotation-test", TimeProvider.System);
        Assert.Equal(newKid, new JsonWebToken(after).Kid);
        Assert.NotEqual(new JsonWebToken(before).Kid, newKid);
        Assert.True((await validator.ValidateAsync(before, CancellationToken.None)).IsValid);
        Assert.True((await validator.ValidateAsync(after, CancellationToken.None)).IsValid);
        var jwks = await otherRing.GetJwksAsync(CancellationToken.None);
        Assert.Contains(jwks.Keys, k => k.KeyId == newKid);
        Assert.Contains(jwks.Keys, k => k.KeyId == new JsonWebToken(before).Kid);
    }
}
