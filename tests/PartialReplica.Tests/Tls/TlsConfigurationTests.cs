using Microsoft.Extensions.Options;
using PartialReplica.Tests.Infrastructure;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Tests.Tls;

/// <summary>A CA setting that cannot be used stops the start with one line naming the setting; before anything listens.</summary>
public sealed class TlsConfigurationTests
{
    private const string UnreachableDatabase = "Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=1";

    [Fact]
    public async Task Agent_with_a_missing_gateway_ca_file_does_not_start_and_names_the_setting()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-ca-{Guid.NewGuid():N}.pem");
        var settings = new Dictionary<string, string?>
        {
            ["Agent:Name"] = "conjur/followers/east-1",
            ["Agent:Database"] = UnreachableDatabase,
            ["Agent:GatewayUrl"] = "https://127.0.0.1:1",
            ["Agent:GatewayCa"] = missing,
            ["urls"] = "http://127.0.0.1:0",
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = AgentApplication.Build([], settings);
            await app.StartAsync();
        });

        Assert.StartsWith($"Agent:GatewayCa (PARTIALREPLICA_GATEWAY_CA): cannot read CA certificates from {missing}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Gateway_with_an_agent_ca_file_holding_no_certificate_does_not_start_and_names_the_setting()
    {
        using var ca = TestCertificates.CreateAuthority("config-ca");
        var keyOnly = ca.Issue("not-a-ca").KeyPath;
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = UnreachableDatabase,
            ["Gateway:GatewayKey"] = TestGatewayKey.Base64,
            ["Gateway:DataKey"] = TestDataKey.Base64,
            ["Gateway:AgentCa"] = keyOnly,
            ["Dispatch:Enabled"] = "false",
            ["urls"] = "http://127.0.0.1:0",
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GatewayApplication.Build([], settings);
            await app.StartAsync();
        });

        Assert.Equal($"Gateway:AgentCa (PARTIALREPLICA_AGENT_CA): {keyOnly} holds no PEM certificate (-----BEGIN CERTIFICATE-----).", error.Message);
    }
}
