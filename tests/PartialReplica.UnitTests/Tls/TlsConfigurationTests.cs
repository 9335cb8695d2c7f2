using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Web.Agent;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Tls;

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
        // A private key in PEM, as a mistaken setting would name a server's key file.
        var keyOnly = Path.Combine(Path.GetTempPath(), $"key-only-{Guid.NewGuid():N}.pem");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            await File.WriteAllTextAsync(keyOnly, key.ExportPkcs8PrivateKeyPem());
        }

        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Leader"] = UnreachableDatabase,
            ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
            ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
            ["Gateway:AgentCa"] = keyOnly,
            ["Dispatch:Enabled"] = "false",
            ["urls"] = "http://127.0.0.1:0",
        };

        try
        {
            var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
            {
                await using var app = GatewayApplication.Build([], settings);
                await app.StartAsync();
            });

            Assert.Equal($"Gateway:AgentCa (PARTIALREPLICA_AGENT_CA): {keyOnly} holds no PEM certificate (-----BEGIN CERTIFICATE-----).", error.Message);
        }
        finally
        {
            File.Delete(keyOnly);
        }
    }
}
