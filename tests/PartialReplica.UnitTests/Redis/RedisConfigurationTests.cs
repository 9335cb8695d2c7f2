using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Web.Gateway;

namespace PartialReplica.UnitTests.Redis;

/// <summary>
/// F14 (issue 26): <c>Gateway:Redis</c> that is not a StackExchange.Redis configuration string stops the gateway's
/// start with one line naming both ways to set it, never quoting the value, which may hold a password.
/// </summary>
public sealed class RedisConfigurationTests
{
    private const string Password = "hunter2-not-to-be-logged";

    // Well-formed and never reached: the settings are refused before anything connects.
    private const string UnreachableLeader = "Host=127.0.0.1;Port=1;Database=none;Username=none;Password=none;Timeout=1";

    [Theory]
    [InlineData("127.0.0.1:6379,password=" + Password + ",connectTimeout=soon")]
    [InlineData("127.0.0.1:6379,password=" + Password + ",noSuchOption=1")]
    [InlineData("password=" + Password)]
    public async Task A_bad_configuration_string_is_refused_in_one_line_without_its_value(string configuration)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GatewayApplication.Build([], new Dictionary<string, string?>
            {
                ["Gateway:Leader"] = UnreachableLeader,
                ["Gateway:GatewayKey"] = GatewayKey.GenerateBase64(),
                ["Gateway:DataKey"] = Slosilo.GenerateBase64Key(),
                ["Gateway:Redis"] = configuration,
                ["urls"] = "http://127.0.0.1:0",
            });
            await app.StartAsync();
        });

        var failure = Assert.Single(error.Failures);
        Assert.StartsWith("The Redis configuration is not a StackExchange.Redis configuration string", failure, StringComparison.Ordinal);
        Assert.EndsWith("set PARTIALREPLICA_REDIS or Gateway:Redis.", failure, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
