using Microsoft.Extensions.Options;
using PartialReplica.Conjur;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Authn;

/// <summary>S5: a gateway key that is missing or unusable stops the gateway's start with one line naming the variable.</summary>
public sealed class GatewayKeyTests
{
    // Well-formed and never reached: the settings are refused before anything connects.
    private const string UnreachableLeader = "Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=1";

    [Theory]
    [InlineData(null, "No gateway key")]
    [InlineData("not base64!", "is not valid base64")]
    [InlineData("c2hvcnQ=", "decodes to 5 bytes")]
    public async Task A_gateway_without_a_usable_key_refuses_to_start_with_one_line_naming_the_variable(string? key, string says)
    {
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Gateway:Leader"] = UnreachableLeader,
            ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
            ["Dispatch:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "None",
        };
        if (key is not null)
        {
            settings["Gateway:GatewayKey"] = key;
        }

        // Refused while the host is built (Kestrel reads the gateway's options) or at the latest when it starts.
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var gateway = GatewayApplication.Build([], settings);
            await gateway.StartAsync();
        });

        var failure = Assert.Single(refused.Failures);
        Assert.Contains(says, failure, StringComparison.Ordinal);
        Assert.Contains("PARTIALREPLICA_GATEWAY_KEY", failure, StringComparison.Ordinal);
        Assert.Contains("openssl rand -base64 32", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }
}
