using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Conjur;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Web.Hosting;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Checks the gateway's settings at start: the data annotations of <see cref="GatewayOptions"/>, that the leader and
/// relay connection strings parse, and that the gateway key and the data key are base64 of 32 bytes. Each failure is one sentence
/// naming the setting and how to set it (option, environment variable, configuration key); none quotes a value.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    /// <summary>How errors about the agents' CA name the option.</summary>
    public const string AgentCaOption = "Gateway:AgentCa (PARTIALREPLICA_AGENT_CA)";

    private static readonly Setting Leader = new("Gateway:Leader", "PARTIALREPLICA_LEADER", "--leader");
    private static readonly Setting Relay = new("Gateway:Relay", "PARTIALREPLICA_RELAY");
    private static readonly Setting Key = new("Gateway:GatewayKey", GatewayKey.EnvironmentVariable);
    private static readonly Setting DataKey = new("Gateway:DataKey", "CONJUR_DATA_KEY");

    private static readonly Dictionary<string, Setting> Known = new(StringComparer.Ordinal)
    {
        [nameof(GatewayOptions.Leader)] = Leader,
        [nameof(GatewayOptions.Relay)] = Relay,
        [nameof(GatewayOptions.GatewayKey)] = Key,
        [nameof(GatewayOptions.DataKey)] = DataKey,
        [nameof(GatewayOptions.AgentCa)] = new("Gateway:AgentCa", "PARTIALREPLICA_AGENT_CA"),
        [nameof(GatewayOptions.Account)] = new("Gateway:Account", "PARTIALREPLICA_ACCOUNT", "--account"),
        [nameof(GatewayOptions.Id)] = new("Gateway:Id", "PARTIALREPLICA_GATEWAY_ID"),
        [nameof(GatewayOptions.PublicUrl)] = new("Gateway:PublicUrl", "PARTIALREPLICA_GATEWAY_PUBLIC_URL"),
    };

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = Setting.CheckAnnotations(options, GatewayOptions.Section, Known);
        failures.AddRange(new[] { Leader.CheckConnectionString(options.Leader, "leader"), Relay.CheckConnectionString(options.Relay, "relay") }.OfType<string>());
        // Each key's own message says how to make one; the configuration key is the other way to give it.
        foreach (var (setting, check) in new (Setting, Action)[]
                 {
                     (Key, () => GatewayKey.FromBase64(options.GatewayKey)),
                     (DataKey, () => Slosilo.FromBase64Key(options.DataKey)),
                 })
        {
            try
            {
                check();
            }
            catch (PartialReplicaException e)
            {
                failures.Add($"{e.Message.TrimEnd('.')} (or set {setting.Key}).");
            }
        }

        if (!string.IsNullOrEmpty(options.Id) && (options.Id.Trim().Length == 0 || options.Id.Length > 200 || options.Id.Any(char.IsControl)))
        {
            failures.Add("The gateway id must be 1 to 200 printable characters (set Gateway:Id or PARTIALREPLICA_GATEWAY_ID).");
        }

        if (!string.IsNullOrEmpty(options.PublicUrl)
            && !(Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)))
        {
            failures.Add("The gateway's public URL must be an absolute http:// or https:// URL (set Gateway:PublicUrl or PARTIALREPLICA_GATEWAY_PUBLIC_URL).");
        }

        if (!string.IsNullOrEmpty(options.AgentCa))
        {
            try
            {
                CertificateAuthority.Load(options.AgentCa, AgentCaOption);
            }
            catch (PartialReplicaException e)
            {
                failures.Add(e.Message);
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// Checks the dispatch settings (section <c>Dispatch</c>) at start: positive intervals, a lease at least twice the
/// renew interval and at most 5 minutes (<see cref="DispatchOptions.Problems"/>), one sentence each.
/// </summary>
internal sealed class DispatchOptionsValidator : IValidateOptions<DispatchOptions>
{
    public ValidateOptionsResult Validate(string? name, DispatchOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
