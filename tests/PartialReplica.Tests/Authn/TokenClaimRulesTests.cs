using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S1 (issue 23): the claims a gateway token must carry, checked by the validator the gateway and the agents share:
/// <c>exp</c> and <c>nbf</c> with at most 30 s of clock skew, at most 8 minutes of life, <c>iss</c> and <c>aud</c>
/// exactly as expected. Tokens are signed by the leader's real active key; only the claims vary.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class TokenClaimRulesTests(GatewayFixture fixture) : IDisposable
{
    private const string Issuer = "claims-test";
    private const string Audience = "default:host:conjur/followers/claims-test";
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private readonly NpgsqlDataSource _leader = NpgsqlDataSource.Create(fixture.Leader);

    public void Dispose() => _leader.Dispose();

    [Theory]
    [InlineData(-60, -29, true)]
    [InlineData(-60, -31, false)]
    [InlineData(29, 60, true)]
    [InlineData(31, 60, false)]
    [InlineData(-5, 3, true)]
    public async Task Exp_and_nbf_allow_at_most_30_seconds_of_clock_skew(int notBeforeSeconds, int expiresSeconds, bool valid)
    {
        var token = await SignAsync(claims =>
        {
            claims["iat"] = Now.AddSeconds(Math.Min(notBeforeSeconds, 0)).ToUnixTimeSeconds();
            claims["nbf"] = Now.AddSeconds(notBeforeSeconds).ToUnixTimeSeconds();
            claims["exp"] = Now.AddSeconds(expiresSeconds).ToUnixTimeSeconds();
        });

        Assert.Equal(valid, (await Validator().ValidateAsync(token, CancellationToken.None)).IsValid);
    }

    [Fact]
    public async Task A_token_living_longer_than_8_minutes_or_missing_a_time_claim_is_refused()
    {
        var validator = Validator();
        var nineMinutes = await SignAsync(claims => claims["exp"] = Now.AddMinutes(9).ToUnixTimeSeconds());
        var noNbf = await SignAsync(claims => claims.Remove("nbf"));
        var noIat = await SignAsync(claims => claims.Remove("iat"));
        var noExp = await SignAsync(claims => claims.Remove("exp"));
        var textExp = await SignAsync(claims => claims["exp"] = Now.AddMinutes(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True((await validator.ValidateAsync(await SignAsync(_ => { }), CancellationToken.None)).IsValid);
        foreach (var token in new[] { nineMinutes, noNbf, noIat, noExp, textExp })
        {
            Assert.False((await validator.ValidateAsync(token, CancellationToken.None)).IsValid);
        }
    }

    [Fact]
    public async Task Iss_and_aud_must_be_exactly_the_expected_strings()
    {
        var validator = Validator();
        string[] refused =
        [
            await SignAsync(claims => claims["iss"] = Issuer + " "),
            await SignAsync(claims => claims["iss"] = Issuer.ToUpperInvariant()),
            await SignAsync(claims => claims.Remove("iss")),
            await SignAsync(claims => claims["aud"] = new[] { Audience, "default:host:conjur/followers/other" }),
            await SignAsync(claims => claims["aud"] = "default:host:conjur/followers/other"),
            await SignAsync(claims => claims.Remove("aud")),
            await SignAsync(claims => claims["sub"] = ""),
        ];

        foreach (var token in refused)
        {
            Assert.False((await validator.ValidateAsync(token, CancellationToken.None)).IsValid);
        }
    }

    private TokenValidator Validator() =>
        new(new SigningKeyRing(_leader, TestGatewayKey.Key, TimeProvider.System), Issuer, Audience, new FixedClock(Now));

    private async Task<string> SignAsync(Action<Dictionary<string, object>> change)
    {
        var key = await new SigningKeyRing(_leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["sub"] = "partial-replica/gateway",
            ["iat"] = Now.ToUnixTimeSeconds(),
            ["nbf"] = Now.ToUnixTimeSeconds(),
            ["exp"] = Now.AddMinutes(1).ToUnixTimeSeconds(),
        };
        change(claims);
        return TestJwt.SignES256(key.ECDsa, new Dictionary<string, object> { ["alg"] = "ES256", ["kid"] = key.KeyId, ["typ"] = "JWT" }, claims);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
