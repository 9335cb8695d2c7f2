using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>S1: a token is only as good as the key that signed it, whatever key id its header claims.</summary>
[Collection(GatewayCollection.Name)]
public sealed class ForgedTokenTests(GatewayFixture fixture)
{
    [Fact]
    public async Task A_token_signed_by_an_unpublished_key_under_a_published_key_id_is_refused_and_the_warm_up_says_so()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var ring = new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System);
        var validator = new TokenValidator(ring, "forgery-test", "forgery-test", TimeProvider.System);
        var genuine = await new TokenIssuer(ring, "forgery-test", TimeProvider.System)
            .CreateTokenAsync("default:user:admin", "forgery-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        using var throwaway = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = DateTime.UtcNow;
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "forgery-test",
            Audience = "forgery-test",
            Subject = new ClaimsIdentity([new Claim(JwtRegisteredClaimNames.Sub, "default:user:admin")]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(1),
            SigningCredentials = new SigningCredentials(
                new ECDsaSecurityKey(throwaway) { KeyId = new JsonWebToken(genuine).Kid }, SecurityAlgorithms.EcdsaSha256),
        });

        Assert.True((await validator.ValidateAsync(genuine, CancellationToken.None)).IsValid);
        var refused = await validator.ValidateAsync(forged, CancellationToken.None);
        Assert.False(refused.IsValid);
        Assert.Null(refused.Subject);
        await validator.WarmUpAsync(CancellationToken.None);
    }
}
