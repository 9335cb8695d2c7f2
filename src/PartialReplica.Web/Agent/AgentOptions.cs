using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using PartialReplica.Web.Tls;

namespace PartialReplica.Web.Agent;

/// <summary>
/// The follower agent's settings: section <c>Agent</c>, or the flat names of SPEC F8
/// (<c>PARTIALREPLICA_FOLLOWER_DB</c>, <c>PARTIALREPLICA_GATEWAY_URL</c>, <c>PARTIALREPLICA_ACCOUNT</c>).
/// </summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>The follower's host identifier (<c>conjur/followers/east-1</c>); pushes must be addressed to it.</summary>
    [Required(ErrorMessage = "No follower name given: pass --name or set Agent:Name.")]
    public string Name { get; set; } = "";

    /// <summary>The follower database: connection string or postgresql:// URI.</summary>
    [Required(ErrorMessage = "No follower database given: pass --db or set PARTIALREPLICA_FOLLOWER_DB.")]
    public string Database { get; set; } = "";

    /// <summary>The gateway's base URL; its <c>/.well-known/jwks.json</c> holds the keys pushes are signed with.</summary>
    [Required(ErrorMessage = "No gateway URL given: pass --gateway-url or set PARTIALREPLICA_GATEWAY_URL.")]
    public string GatewayUrl { get; set; } = "";

    [Required]
    public string Account { get; set; } = "default";

    /// <summary>The gateway's token issuer.</summary>
    [Required]
    public string Issuer { get; set; } = "partial-replica-gateway";

    /// <summary>
    /// How long a batch waits for the follower to replay the leader up to its stamps before it is refused
    /// (<see cref="PartialReplica.Admission.AdmissionOptions.ReplayTimeout"/>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan ReplayTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest batch accepted (a batch may carry many 64 KiB values).</summary>
    [Range(1024, 1L << 31)]
    public long MaxRequestBodyBytes { get; set; } = 256L << 20;

    /// <summary>
    /// A PEM file of the CA certificate(s) that issue the gateway's HTTPS certificate (<c>Agent:GatewayCa</c> or
    /// <c>PARTIALREPLICA_GATEWAY_CA</c>). When set, the JWKS fetch trusts only this CA and the certificate must name
    /// the gateway URL's host; when empty, the system's trust store.
    /// </summary>
    public string? GatewayCa { get; set; }
}

/// <summary>Checks at start that the gateway's CA file, when given, holds certificates (one line naming the option).</summary>
internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    /// <summary>How errors about the gateway's CA name the option.</summary>
    public const string GatewayCaOption = "Agent:GatewayCa (PARTIALREPLICA_GATEWAY_CA)";

    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        try
        {
            if (!string.IsNullOrEmpty(options.GatewayCa))
            {
                CertificateAuthority.Load(options.GatewayCa, GatewayCaOption);
            }

            return ValidateOptionsResult.Success;
        }
        catch (PartialReplicaException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
