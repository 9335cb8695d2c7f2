using Microsoft.Extensions.Options;
using PartialReplica.Authn;
using PartialReplica.Web.Tls;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// Checks at start what data annotations cannot: that the gateway key is there and is base64 of 32 bytes.
/// The failure is the one line <see cref="GatewayKey.FromBase64"/> writes, naming the variable and how to
/// make a key; it never quotes the value.
/// </summary>
internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    /// <summary>How errors about the agents' CA name the option.</summary>
    public const string AgentCaOption = "Gateway:AgentCa (PARTIALREPLICA_AGENT_CA)";

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        try
        {
            GatewayKey.FromBase64(options.GatewayKey);
            if (!string.IsNullOrEmpty(options.AgentCa))
            {
                CertificateAuthority.Load(options.AgentCa, AgentCaOption);
            }

            return ValidateOptionsResult.Success;
        }
        catch (PartialReplicaException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
