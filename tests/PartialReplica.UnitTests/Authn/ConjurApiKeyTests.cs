using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Authn;

/// <summary>S1: a gateway without a usable data key (CONJUR_DATA_KEY) refuses to start, naming the variable.</summary>
public sealed class ConjurApiKeyTests
{
    // Well-formed and never reached: the settings are refused before anything connects.
    private const string UnreachableLeader = "Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=1";

    [Theory]
    [InlineData(null, "No data key")]
    [InlineData("c2hvcnQ=", "decodes to 5 bytes")]
    public async Task A_gateway_without_a_usable_data_key_refuses_to_start_naming_the_variable(string? key, string says)
    {
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Gateway:Leader"] = UnreachableLeader,
            ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
            ["Dispatch:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "None",
        };
        if (key is not null)
        {
            settings["Gateway:DataKey"] = key;
        }

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var gateway = GatewayApplication.Build([], settings);
            await gateway.StartAsync();
        });

        var failure = Assert.Single(refused.Failures);
        Assert.Contains(says, failure, StringComparison.Ordinal);
        Assert.Contains("CONJUR_DATA_KEY", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }
}
