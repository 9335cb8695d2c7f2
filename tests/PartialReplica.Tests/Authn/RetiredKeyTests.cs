using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S5 (issue 20): a retired key never signs again, and what it signs after its retirement is refused by the
/// gateway (keys from the leader) and by an agent (keys from the gateway's JWKS, which publishes retired_at).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class RetiredKeyTests(GatewayFixture fixture)
{
    private const string Audience = "default:host:conjur/followers/retired-key-test";

    [Fact]
    public async Task A_token_issued_after_its_keys_retirement_is_refused_by_the_gateway_and_by_an_agent_reading_the_jwks()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var old = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        var issuedBefore = DateTimeOffset.UtcNow;
        var before = Mint(old, issuedBefore, issuedBefore, issuedBefore + TokenLifetimes.Max);

        // The gateway retires it (its own ring, so its JWKS shows the retirement at once).
        using (var rotated = await PostAsync("/signing-keys/rotate", await fixture.AdminTokenAsync()))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        }

        var retiredAt = await Db.ScalarAsync<DateTime>(fixture.Leader,
            "SELECT retired_at FROM partial_replica.signing_keys WHERE kid = $1", old.KeyId);
        var retired = new DateTimeOffset(retiredAt, TimeSpan.Zero);
        // Someone holding the retired private key mints tokens two minutes after the retirement: one honest about
        // it, one backdated to just before the retirement but living far past a token lifetime.
        var later = retired + TimeSpan.FromMinutes(2);
        var after = Mint(old, later, later, later + TimeSpan.FromMinutes(1));
        var backdated = Mint(old, retired - TimeSpan.FromSeconds(1), retired - TimeSpan.FromSeconds(1), retired + TimeSpan.FromMinutes(20));
        var current = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        var sameClaimsCurrentKey = Mint(current, later, later, later + TimeSpan.FromMinutes(1));
        var clock = new FixedTimeProvider(later + TimeSpan.FromSeconds(10));

        var gateway = new TokenValidator(new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System), GatewayFixture.Issuer, Audience, clock);
        var jwksUri = new Uri(fixture.Http.BaseAddress!, "/.well-known/jwks.json");
        var agent = new TokenValidator(new HttpJwksSource(fixture.Http, jwksUri, clock), GatewayFixture.Issuer, Audience, clock);

        foreach (var (side, validator) in new[] { ("gateway", gateway), ("agent", agent) })
        {
            Assert.True((await validator.ValidateAsync(sameClaimsCurrentKey, CancellationToken.None)).IsValid, $"{side}: the same token signed by the active key");
            Assert.True((await validator.ValidateAsync(before, CancellationToken.None)).IsValid, $"{side}: a token issued before the retirement, within the grace");
            var refused = await validator.ValidateAsync(after, CancellationToken.None);
            Assert.False(refused.IsValid, $"{side}: a token issued after the retirement");
            Assert.Contains("retired", refused.Failure, StringComparison.Ordinal);
            Assert.False((await validator.ValidateAsync(backdated, CancellationToken.None)).IsValid, $"{side}: a backdated token outliving the key");
        }

        // The JWKS says when each key was retired (epoch seconds, rounded up), and nothing for the active key.
        using var jwks = JsonDocument.Parse(await fixture.Http.GetStringAsync(jwksUri));
        var keys = jwks.RootElement.GetProperty("keys").EnumerateArray().ToDictionary(k => k.GetProperty("kid").GetString()!);
        Assert.Equal((retired.ToUnixTimeMilliseconds() + 999) / 1000, keys[old.KeyId].GetProperty("retired_at").GetInt64());
        Assert.False(keys[current.KeyId].TryGetProperty("retired_at", out _));
    }

    [Fact]
    public async Task A_ring_never_signs_with_a_key_another_gateway_retired_even_while_its_cache_is_fresh()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var ring = new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System);
        var issuer = new TokenIssuer(ring, "retired-key-test", TimeProvider.System);
        var first = await issuer.CreateTokenAsync("default:user:admin", "retired-key-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        var newKid = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).RotateAsync(CancellationToken.None);
        var second = await issuer.CreateTokenAsync("default:user:admin", "retired-key-test", TimeSpan.FromMinutes(1), CancellationToken.None);

        Assert.NotEqual(newKid, TestJwt.Kid(first));
        Assert.Equal(newKid, TestJwt.Kid(second));
    }

    private static string Mint(SigningKey key, DateTimeOffset issuedAt, DateTimeOffset? notBefore, DateTimeOffset expires)
    {
        var claims = new Dictionary<string, object>
        {
            ["iss"] = GatewayFixture.Issuer,
            ["aud"] = Audience,
            ["sub"] = "partial-replica/gateway",
            ["iat"] = issuedAt.ToUnixTimeSeconds(),
            ["exp"] = expires.ToUnixTimeSeconds(),
        };
        if (notBefore is { } nbf)
        {
            claims["nbf"] = nbf.ToUnixTimeSeconds();
        }

        return TestJwt.SignES256(key.ECDsa, new Dictionary<string, object> { ["alg"] = "ES256", ["kid"] = key.KeyId, ["typ"] = "JWT" }, claims);
    }

    private async Task<HttpResponseMessage> PostAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await fixture.Http.SendAsync(request);
    }

    /// <summary>A validator's clock set to one instant (validation only reads it).</summary>
    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
