using System.ComponentModel.DataAnnotations;

namespace PartialReplica.Web.Agent;

/// <summary>
/// The follower agent's settings: section <c>Agent</c>, or the flat names of SPEC F8
/// (<c>PARTIALREPLICA_FOLLOWER_DB</c>, <c>PARTIALREPLICA_GATEWAY_URL</c>, <c>PARTIALREPLICA_ACCOUNT</c>).
/// </summary>
internal sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>The follower's host identifier (<c>conjur/followers/east-1</c>); pushes must be addressed to it.</summary>
    [Required(ErrorMessage = "No follower name given")]
    public string Name { get; set; } = "";

    /// <summary>The follower database: connection string or postgresql:// URI.</summary>
    [Required(ErrorMessage = "No follower database given")]
    public string Database { get; set; } = "";

    /// <summary>The gateway's base URL; its <c>/.well-known/jwks.json</c> holds the keys pushes are signed with.</summary>
    [Required(ErrorMessage = "No gateway URL given")]
    public string GatewayUrl { get; set; } = "";

    [Required(ErrorMessage = "No Conjur account given")]
    public string Account { get; set; } = "default";

    /// <summary>The gateway's token issuer.</summary>
    [Required]
    public string Issuer { get; set; } = "partial-replica-gateway";

    /// <summary>
    /// How long a batch waits for the follower to replay the leader up to its stamps before it is refused
    /// (<see cref="PartialReplica.Follower.AdmissionOptions.ReplayTimeout"/>).
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
