using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Checks the gateway's settings at start: the data annotations of <see cref="GatewayOptions"/>, that the leader and
/// relay connection strings parse, and that the gateway key is base64 of 32 bytes. Each failure is one sentence
/// naming the setting and how to set it (option, environment variable, configuration key); none quotes a value.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    private static readonly Setting Leader = new("Gateway:Leader", "PARTIALREPLICA_LEADER", "--leader");
    private static readonly Setting Relay = new("Gateway:Relay", "PARTIALREPLICA_RELAY");
    private static readonly Setting Key = new("Gateway:GatewayKey", GatewayKey.EnvironmentVariable);

    private static readonly Dictionary<string, Setting> Known = new(StringComparer.Ordinal)
    {
        [nameof(GatewayOptions.Leader)] = Leader,
        [nameof(GatewayOptions.Relay)] = Relay,
        [nameof(GatewayOptions.GatewayKey)] = Key,
        [nameof(GatewayOptions.Account)] = new("Gateway:Account", "PARTIALREPLICA_ACCOUNT", "--account"),
    };

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = Setting.CheckAnnotations(options, GatewayOptions.Section, Known);
        failures.AddRange(new[] { Leader.CheckConnectionString(options.Leader, "leader"), Relay.CheckConnectionString(options.Relay, "relay") }.OfType<string>());
        try
        {
            GatewayKey.FromBase64(options.GatewayKey);
        }
        catch (PartialReplicaException e)
        {
            // The key's own message says how to make one; the configuration key is the other way to give it.
            failures.Add($"{e.Message.TrimEnd('.')} (or set {Key.Key}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
