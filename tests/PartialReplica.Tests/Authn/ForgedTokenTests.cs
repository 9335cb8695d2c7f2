using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Tests.Gateway;
using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Authn;

/// <summary>
/// S1, S2 (issue 23): forged tokens are refused with 401 by the gateway (keys from the leader) and by a follower
/// agent (keys from the gateway's JWKS), through the same validator: <c>alg: none</c>, HS256 keyed with the public
/// key, a <c>kid</c> not in the ring, <c>jku</c>/<c>x5u</c>/<c>jwk</c>/<c>x5c</c> headers naming another key, an
/// unknown <c>crit</c> header, and follower A's tokens at follower B's agent. Each forgery is checked beside a
/// control token, built the same way, that is accepted.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ForgedTokenTests(GatewayFixture fixture) : IAsyncLifetime
{
    private const string EdgeCount = "/edge/secrets/default?count=true";

    private WebApplication? _agent;
    private HttpClient _agentHttp = null!;
    private TestFollower _a = null!;
    private TestFollower _b = null!;
    private SigningKey _key = null!;

    public async Task InitializeAsync()
    {
        _a = await fixture.AddFollowerAsync();
        _b = await fixture.AddFollowerAsync();
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        _key = await new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System).GetSigningKeyAsync(CancellationToken.None);

        // Follower B's agent on a database of its own; it reads the fixture gateway's JWKS.
        var database = "forged_" + Guid.NewGuid().ToString("N")[..12];
        await Db.ExecuteAsync(fixture.Leader, $"CREATE DATABASE {database}");
        var followerDb = new NpgsqlConnectionStringBuilder(fixture.Leader) { Database = database }.ConnectionString;
        (_agent, var url) = await WebHosts.StartAgentAsync(_b.Name, followerDb, fixture.Http.BaseAddress!.ToString());
        _agentHttp = new HttpClient { BaseAddress = new Uri(url) };
    }

    public async Task DisposeAsync()
    {
        _agentHttp.Dispose();
        if (_agent is not null)
        {
            await _agent.StopAsync();
            await _agent.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_control_tokens_are_accepted_by_the_gateway_and_the_agent()
    {
        Assert.Equal(HttpStatusCode.OK, await AtGatewayAsync(Genuine(GatewayClaims())));
        Assert.Equal(HttpStatusCode.OK, await AtGatewayAsync(_a.Token));
        // Past the token check the agent finds a body it does not take: 415, not 401.
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await AtAgentAsync(Genuine(PushClaims(_b.RoleId))));
    }

    [Fact]
    public async Task Alg_none_is_refused()
    {
        foreach (var (claims, at) in Sides())
        {
            var header = new Dictionary<string, object> { ["alg"] = "none", ["kid"] = _key.KeyId, ["typ"] = "JWT" };
            var signedCopy = Genuine(claims).Split('.')[2];
            await AssertRefusedAsync(at, TestJwt.Unsigned(header, claims, ""), "alg none, no signature");
            await AssertRefusedAsync(at, TestJwt.Unsigned(header, claims, signedCopy), "alg none, a genuine signature");
            await AssertRefusedAsync(at, TestJwt.Unsigned(new Dictionary<string, object> { ["alg"] = "none" }, claims, ""), "alg none, no kid");
        }
    }

    [Fact]
    public async Task HS256_keyed_with_the_public_key_is_refused()
    {
        var publicKey = _key.ECDsa.ExportParameters(includePrivateParameters: false);
        var jwks = await fixture.Http.GetStringAsync("/.well-known/jwks.json");
        byte[][] secrets =
        [
            Encoding.UTF8.GetBytes(jwks),
            _key.ECDsa.ExportSubjectPublicKeyInfo(),
            Encoding.UTF8.GetBytes(_key.ECDsa.ExportSubjectPublicKeyInfoPem()),
            [0x04, .. publicKey.Q.X!, .. publicKey.Q.Y!],
            [.. publicKey.Q.X!, .. publicKey.Q.Y!],
        ];
        foreach (var (claims, at) in Sides())
        {
            foreach (var secret in secrets)
            {
                var header = new Dictionary<string, object> { ["alg"] = "HS256", ["kid"] = _key.KeyId, ["typ"] = "JWT" };
                await AssertRefusedAsync(at, TestJwt.SignHS256(secret, header, claims), $"HS256 keyed with {secret.Length} bytes of the public key");
            }
        }
    }

    [Fact]
    public async Task A_kid_not_in_the_key_ring_is_refused_whoever_signed()
    {
        using var throwaway = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        foreach (var (claims, at) in Sides())
        {
            var unknownKid = new Dictionary<string, object> { ["alg"] = "ES256", ["kid"] = "not-" + _key.KeyId, ["typ"] = "JWT" };
            var noKid = new Dictionary<string, object> { ["alg"] = "ES256", ["typ"] = "JWT" };
            await AssertRefusedAsync(at, TestJwt.SignES256(throwaway, unknownKid, claims), "unknown kid, throwaway key");
            await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, unknownKid, claims), "unknown kid, the gateway's own key");
            await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, noKid, claims), "no kid, the gateway's own key");
            await AssertRefusedAsync(at, TestJwt.SignES256(throwaway, Standard(), claims), "published kid, throwaway key");
        }
    }

    [Fact]
    public async Task Jku_x5u_jwk_and_x5c_headers_naming_another_key_are_refused()
    {
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var attackerJwk = JwksKey.From("attacker", attacker);
        using var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=attacker", attacker, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var extras = new (string Name, object Value)[]
        {
            ("jku", "http://127.0.0.1:9/attacker/jwks.json"),
            ("x5u", "http://127.0.0.1:9/attacker/cert.pem"),
            ("jwk", new Dictionary<string, object> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = attackerJwk.X, ["y"] = attackerJwk.Y, ["kid"] = "attacker" }),
            ("x5c", new[] { Convert.ToBase64String(certificate.RawData) }),
        };
        foreach (var (claims, at) in Sides())
        {
            foreach (var (name, value) in extras)
            {
                var attackersKid = new Dictionary<string, object> { ["alg"] = "ES256", ["kid"] = "attacker", ["typ"] = "JWT", [name] = value };
                var publishedKid = new Dictionary<string, object>(Standard()) { [name] = value };
                await AssertRefusedAsync(at, TestJwt.SignES256(attacker, attackersKid, claims), $"{name} with the attacker's kid and key");
                await AssertRefusedAsync(at, TestJwt.SignES256(attacker, publishedKid, claims), $"{name} with a published kid, the attacker's key");
                // Even the gateway's own signature does not make a header it does not understand acceptable.
                await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, publishedKid, claims), $"{name} signed by the gateway's own key");
            }
        }
    }

    [Fact]
    public async Task An_unknown_crit_header_is_refused_even_when_genuinely_signed()
    {
        foreach (var (claims, at) in Sides())
        {
            var crit = new Dictionary<string, object>(Standard()) { ["crit"] = new[] { "exp2" }, ["exp2"] = 1 };
            var emptyCrit = new Dictionary<string, object>(Standard()) { ["crit"] = Array.Empty<string>() };
            var b64 = new Dictionary<string, object>(Standard()) { ["crit"] = new[] { "b64" }, ["b64"] = true };
            await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, crit, claims), "crit naming an unknown parameter");
            await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, emptyCrit, claims), "an empty crit");
            await AssertRefusedAsync(at, TestJwt.SignES256(_key.ECDsa, b64, claims), "crit b64");
        }
    }

    [Fact]
    public async Task Follower_As_tokens_are_refused_at_follower_Bs_agent_and_As_push_token_at_the_gateway()
    {
        var pushToA = await fixture.ForgingIssuer().CreateTokenAsync(SignedPushTokens.Subject, _a.RoleId, TimeSpan.FromMinutes(1), CancellationToken.None);
        var pushToB = await fixture.ForgingIssuer().CreateTokenAsync(SignedPushTokens.Subject, _b.RoleId, TimeSpan.FromMinutes(1), CancellationToken.None);

        await AssertRefusedAsync(AtAgentAsync, pushToA, "a push token addressed to follower A");
        await AssertRefusedAsync(AtAgentAsync, _a.Token, "follower A's own API token");
        await AssertRefusedAsync(AtGatewayAsync, pushToA, "a push token used to pull");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await AtAgentAsync(pushToB));
    }

    [Fact]
    public async Task A_token_signed_by_an_unpublished_key_under_a_published_key_id_is_refused_and_the_warm_up_says_so()
    {
        await using var leader = NpgsqlDataSource.Create(fixture.Leader);
        var ring = new SigningKeyRing(leader, TestGatewayKey.Key, TimeProvider.System);
        var validator = new TokenValidator(ring, "forgery-test", "forgery-test", TimeProvider.System);
        var genuine = await new TokenIssuer(ring, "forgery-test", TimeProvider.System)
            .CreateTokenAsync("default:user:admin", "forgery-test", TimeSpan.FromMinutes(1), CancellationToken.None);
        using var throwaway = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var header = new Dictionary<string, object> { ["alg"] = "ES256", ["kid"] = TestJwt.Kid(genuine), ["typ"] = "JWT" };
        var forged = TestJwt.SignES256(throwaway, header, TestJwt.ValidClaims("forgery-test", "forgery-test", "default:user:admin"));

        Assert.True((await validator.ValidateAsync(genuine, CancellationToken.None)).IsValid);
        var refused = await validator.ValidateAsync(forged, CancellationToken.None);
        Assert.False(refused.IsValid);
        Assert.Null(refused.Subject);
        await validator.WarmUpAsync(CancellationToken.None);
    }

    private Dictionary<string, object> Standard() => new() { ["alg"] = "ES256", ["kid"] = _key.KeyId, ["typ"] = "JWT" };

    private string Genuine(Dictionary<string, object> claims) => TestJwt.SignES256(_key.ECDsa, Standard(), claims);

    private Dictionary<string, object> GatewayClaims() => TestJwt.ValidClaims(GatewayFixture.Issuer, GatewayFixture.Issuer, _a.RoleId);

    private static Dictionary<string, object> PushClaims(string audience) => TestJwt.ValidClaims(GatewayFixture.Issuer, audience, SignedPushTokens.Subject);

    /// <summary>The gateway with claims it would accept, and follower B's agent with claims it would accept.</summary>
    private IEnumerable<(Dictionary<string, object> Claims, Func<string, Task<HttpStatusCode>> At)> Sides() =>
    [
        (GatewayClaims(), AtGatewayAsync),
        (PushClaims(_b.RoleId), AtAgentAsync),
    ];

    private async Task AssertRefusedAsync(Func<string, Task<HttpStatusCode>> at, string token, string what)
    {
        var status = await at(token);
        Assert.True(status == HttpStatusCode.Unauthorized, $"{what}: {(int)status}, not 401");
    }

    private async Task<HttpStatusCode> AtGatewayAsync(string token)
    {
        using var response = await fixture.GetAsync(EdgeCount, token);
        return response.StatusCode;
    }

    private async Task<HttpStatusCode> AtAgentAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, HttpBatchSender.AgentRoute)
        {
            Content = new StringContent("not a batch", Encoding.UTF8, "text/plain"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _agentHttp.SendAsync(request);
        return response.StatusCode;
    }
}
