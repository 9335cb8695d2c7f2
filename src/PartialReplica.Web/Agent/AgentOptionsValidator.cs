using Microsoft.Extensions.Options;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Agent;

/// <summary>
/// Checks the agent's settings at start: the data annotations of <see cref="AgentOptions"/>, that the follower
/// database's connection string parses and that the gateway URL is an absolute http(s) URL. Each failure is one
/// sentence naming the setting and how to set it; none quotes a value.
/// </summary>
internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    private static readonly Setting Database = new("Agent:Database", "PARTIALREPLICA_FOLLOWER_DB", "--db");
    private static readonly Setting GatewayUrl = new("Agent:GatewayUrl", "PARTIALREPLICA_GATEWAY_URL", "--gateway-url");

    private static readonly Dictionary<string, Setting> Known = new(StringComparer.Ordinal)
    {
        [nameof(AgentOptions.Name)] = new("Agent:Name", "Agent__Name", "--name"),
        [nameof(AgentOptions.Database)] = Database,
        [nameof(AgentOptions.GatewayUrl)] = GatewayUrl,
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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
