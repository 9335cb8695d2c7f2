using Microsoft.Extensions.Options;
using PartialReplica.Web.Hosting;
using PartialReplica.Web.Hosting.Tls;

namespace PartialReplica.Web.Agent;

/// <summary>
/// Checks the agent's settings at start: the data annotations of <see cref="AgentOptions"/>, that the follower
/// database's connection string parses that the gateway URL is an absolute http(s) URL and that a configured gateway CA loads. Each failure is one
/// sentence naming the setting and how to set it; none quotes a value.
/// </summary>
internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    /// <summary>How errors about the gateway's CA name the option.</summary>
    public const string GatewayCaOption = "Agent:GatewayCa (PARTIALREPLICA_GATEWAY_CA)";

    private static readonly Setting Database = new("Agent:Database", "PARTIALREPLICA_FOLLOWER_DB", "--db");
    private static readonly Setting GatewayUrl = new("Agent:GatewayUrl", "PARTIALREPLICA_GATEWAY_URL", "--gateway-url");

    private static readonly Dictionary<string, Setting> Known = new(StringComparer.Ordinal)
    {
        [nameof(AgentOptions.Name)] = new("Agent:Name", "Agent__Name", "--name"),
        [nameof(AgentOptions.Database)] = Database,
        [nameof(AgentOptions.GatewayUrl)] = GatewayUrl,
        [nameof(AgentOptions.GatewayCa)] = new("Agent:GatewayCa", "PARTIALREPLICA_GATEWAY_CA"),
        [nameof(AgentOptions.Account)] = new("Agent:Account", "PARTIALREPLICA_ACCOUNT", "--account"),
    };

    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var failures = Setting.CheckAnnotations(options, AgentOptions.Section, Known);
        if (Database.CheckConnectionString(options.Database, "follower database") is { } database)
        {
            failures.Add(database);
        }

        if (!string.IsNullOrWhiteSpace(options.GatewayUrl)
            && !(Uri.TryCreate(options.GatewayUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
        {
            failures.Add(GatewayUrl.Refuse("The gateway URL is not an absolute http:// or https:// URL such as http://gateway:8080"));
        }

        if (!string.IsNullOrEmpty(options.GatewayCa))
        {
            try
            {
                CertificateAuthority.Load(options.GatewayCa, GatewayCaOption);
            }
            catch (PartialReplicaException e)
            {
                failures.Add(e.Message);
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
