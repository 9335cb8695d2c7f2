using PartialReplica.Tests.Infrastructure;

namespace PartialReplica.Tests.Tls;

/// <summary>
/// SPEC S5 in transit: gateway and agent serve HTTPS with certificates from a CA the test made; the gateway pushes
/// only to an agent whose certificate that CA issued, and the agent fetches the gateway's keys trusting that CA.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class HttpsPushTests(ReplicationFixture fixture) : IAsyncLifetime
{
    private const string East = "conjur/followers/east-1";
    private const string BillingDb = "default:variable:apps/billing/db/password";

    private readonly List<TestWorld> _worlds = [];
    private readonly TestCertificates _ca = TestCertificates.CreateAuthority("replication-ca");
    private readonly TestCertificates _otherCa = TestCertificates.CreateAuthority("rogue-ca");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var world in _worlds)
        {
            await world.DisposeAsync();
        }

        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public async Task A_push_over_https_reaches_an_agent_whose_certificate_the_configured_ca_issued()
    {
        var (leader, gatewayUrl) = await StartLeaderAndGatewayAsync();
        Assert.StartsWith("https://127.0.0.1:", gatewayUrl, StringComparison.Ordinal);
        var agentCertificate = _ca.Issue("agent-east");
        var follower = await StartFollowerAsync(leader, East, gatewayUrl, agentCertificate);

        var expected = await Db.ColumnAsync(leader, Rows + " WHERE resource_id = $1", BillingDb);
        Assert.Single(expected);
        await Eventually.HoldsAsync(
            async () => (await Db.ColumnAsync(follower, Rows)).SequenceEqual(expected), "the billing secret reached east-1 over HTTPS");
        Assert.Equal("value over tls"u8.ToArray(), _worlds[0].Crypto.Decrypt(
            (await Db.ScalarAsync<byte[]>(follower, "SELECT value FROM secrets WHERE resource_id = $1", BillingDb))!, BillingDb));
    }

    [Fact]
    public async Task An_agent_whose_certificate_another_ca_issued_is_refused_and_the_error_names_the_certificate()
    {
        var (leader, gatewayUrl) = await StartLeaderAndGatewayAsync();
        var follower = await StartFollowerAsync(leader, East, gatewayUrl, _otherCa.Issue("rogue-agent"));

        string? lastError = null;
        await Eventually.HoldsAsync(async () =>
        {
            lastError = await Db.ScalarAsync<string>(leader, "SELECT last_error FROM partial_replica.delivery WHERE follower = $1", East);
            return lastError?.Contains("rogue-agent", StringComparison.Ordinal) == true;
        }, "the gateway recorded that east-1's agent certificate is refused");

        Assert.Contains("certificate \"CN=rogue-agent\"", lastError, StringComparison.Ordinal);
        Assert.Contains("issued by \"CN=rogue-ca\"", lastError, StringComparison.Ordinal);
        Assert.Contains($"the CA in {_ca.CaPath} does not vouch for", lastError, StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));
    }

    [Fact]
    public async Task An_agent_that_trusts_another_ca_for_the_gateway_refuses_its_pushes()
    {
        var (leader, gatewayUrl) = await StartLeaderAndGatewayAsync();
        var follower = await StartFollowerAsync(leader, East, gatewayUrl, _ca.Issue("agent-east"), gatewayCa: _otherCa.CaPath);

        string? lastError = null;
        await Eventually.HoldsAsync(async () =>
        {
            lastError = await Db.ScalarAsync<string>(leader, "SELECT last_error FROM partial_replica.delivery WHERE follower = $1", East);
            return lastError?.Contains("does not vouch for", StringComparison.Ordinal) == true;
        }, "the gateway recorded that east-1's agent could not verify its push");

        // The status names the agent, its status code and the cause in the agent's own words (its 503 body).
        Assert.Matches(@"^agent https://\S+ answered 503: ", lastError);
        Assert.EndsWith(
            " answered 503: This host's TLS peer presented a certificate that Agent:GatewayCa (PARTIALREPLICA_GATEWAY_CA) does not vouch for; see this host's log.",
            lastError,
            StringComparison.Ordinal);
        Assert.Equal(0L, await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets"));
    }

    [Fact]
    public async Task Status_from_the_cli_reads_an_https_agent_only_through_the_configured_agent_ca()
    {
        var (leader, gatewayUrl) = await StartLeaderAndGatewayAsync();
        var follower = await StartFollowerAsync(leader, East, gatewayUrl, _ca.Issue("agent-east"));
        await Eventually.HoldsAsync(
            async () => await Db.ScalarAsync<long>(follower, "SELECT count(*) FROM secrets") == 1, "the billing secret reached east-1 over HTTPS");

        async Task<System.Text.Json.JsonElement> DeliveredAsync(string ca)
        {
            var status = await CliProcess.RunAsync(
                new Dictionary<string, string> { ["PARTIALREPLICA_LEADER"] = leader, ["PARTIALREPLICA_AGENT_CA"] = ca }, "status", "--json");
            Assert.True(status.ExitCode == 0, status.Stderr);
            using var document = System.Text.Json.JsonDocument.Parse(status.Stdout);
            return document.RootElement.GetProperty("followers").EnumerateArray()
                .Single(f => f.GetProperty("name").GetString() == East).GetProperty("delivered").Clone();
        }

        // The agent's certificate chains only to the test's CA: trusted through it, the agent's own count is read.
        Assert.Equal(1L, (await DeliveredAsync(_ca.CaPath)).GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await DeliveredAsync(_otherCa.CaPath)).ValueKind);
    }

    private const string Rows = """
        SELECT resource_id || '#' || version || '#' || encode(value, 'hex') || '#' || coalesce(expires_at::text, '') FROM secrets
        """;

    private async Task<(string Leader, string GatewayUrl)> StartLeaderAndGatewayAsync()
    {
        var gatewayCertificate = _ca.Issue("gateway");
        var settings = WebHosts.Https(gatewayCertificate.CertificatePath, gatewayCertificate.KeyPath);
        settings["Gateway:AgentCa"] = _ca.CaPath;
        var world = await TestWorld.On(fixture).DemoPolicy().Secret(BillingDb, "value over tls").Gateway(settings).StartAsync();
        _worlds.Add(world);
        return (world.Leader, world.GatewayUrl);
    }

    /// <summary>Starts <paramref name="name"/>'s agent over HTTPS for the world of <paramref name="leader"/> and its gateway at <paramref name="gatewayUrl"/>.</summary>
    private async Task<string> StartFollowerAsync(string leader, string name, string gatewayUrl, IssuedCertificate certificate, string? gatewayCa = null)
    {
        var world = _worlds.Single(w => w.Leader == leader && w.GatewayUrl == gatewayUrl);
        var settings = WebHosts.Https(certificate.CertificatePath, certificate.KeyPath);
        settings["Agent:GatewayCa"] = gatewayCa ?? _ca.CaPath;
        var follower = await world.AddFollowerAsync(name, 0, HostKind.InProcess, settings);
        Assert.StartsWith("https://127.0.0.1:", world.AgentUrl(name), StringComparison.Ordinal);
        return follower;
    }
}
