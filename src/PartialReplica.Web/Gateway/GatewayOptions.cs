using System.ComponentModel.DataAnnotations;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// The gateway's settings: section <c>Gateway</c> of appsettings, <c>Gateway__Leader</c> style env vars, or the
/// flat names of SPEC F8 (<c>PARTIALREPLICA_LEADER</c>, <c>PARTIALREPLICA_ACCOUNT</c>, <c>PARTIALREPLICA_GATEWAY_KEY</c>,
/// <c>CONJUR_DATA_KEY</c>).
/// </summary>
internal sealed class GatewayOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Gateway";

    /// <summary>The leader database: connection string or postgresql:// URI.</summary>
    [Required(ErrorMessage = "No leader database given")]
    public string Leader { get; set; } = "";

    /// <summary>
    /// The gateway key (<c>Gateway:GatewayKey</c> or <c>PARTIALREPLICA_GATEWAY_KEY</c>): base64 of 32 bytes that
    /// encrypt the token-signing keys stored on the leader (SPEC S5). The same on every gateway of a leader;
    /// checked at start by <see cref="GatewayOptionsValidator"/>.
    /// </summary>
    public string GatewayKey { get; set; } = "";

    /// <summary>
    /// The leader's Conjur data key (<c>Gateway:DataKey</c> or <c>CONJUR_DATA_KEY</c>): base64 of 32 bytes. The gateway
    /// uses it for API keys only: to open <c>credentials.api_key</c> when authenticating, and to store the keys that
    /// rotation and policy loads issue. Pushes copy secret ciphertext and never decrypt it. Checked at start by
    /// <see cref="GatewayOptionsValidator"/>.
    /// </summary>
    public string DataKey { get; set; } = "";

    /// <summary>
    /// This gateway's id among the gateways of its leader (<c>Gateway:Id</c> or <c>PARTIALREPLICA_GATEWAY_ID</c>): the
    /// followers it serves follow from it (rendezvous hashing over the live ids), so a gateway restarted with the same
    /// id gets the same followers back. Unique per leader; empty: <c>Dispatch:InstanceId</c>, by default host name and
    /// process id.
    /// </summary>
    public string? Id { get; set; }

    /// <summary>
    /// The URL others reach this gateway at (<c>Gateway:PublicUrl</c> or <c>PARTIALREPLICA_GATEWAY_PUBLIC_URL</c>), shown
    /// beside its id in <c>status</c> and the dashboard; empty: the address it listens on, with the host name for a
    /// wildcard.
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary>The Conjur account this gateway serves.</summary>
    [Required(ErrorMessage = "No Conjur account given")]
    public string Account { get; set; } = "default";

    /// <summary>The <c>iss</c> of the tokens this gateway issues, and the audience of tokens for its own API.</summary>
    [Required]
    public string Issuer { get; set; } = "partial-replica-gateway";

    /// <summary>How long tokens from <c>/authn/.../authenticate</c> live (at most 8 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:08:00")]
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(8);

    /// <summary>The largest request body accepted; larger ones get 413.</summary>
    /// <summary>
    /// An admin connection string for the relay (<c>PARTIALREPLICA_RELAY</c>); empty: the location setup recorded on
    /// the leader, with the leader's credentials.
    /// </summary>
    public string? Relay { get; set; }

    /// <summary>How often the followers' slots on the relay are checked (S6: a dropped slot heals).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan SubscriptionCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a follower's slot may stay unused before its agent is asked to re-enable the subscription.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan SubscriptionInactiveAfter { get; set; } = TimeSpan.FromSeconds(30);

    [Range(1024, 1L << 30)]
    public long MaxRequestBodyBytes { get; set; } = 1L << 20;

    /// <summary>
    /// A PEM file of the CA certificate(s) that issue the agents' HTTPS certificates (<c>Gateway:AgentCa</c> or
    /// <c>PARTIALREPLICA_AGENT_CA</c>). When set, pushes, status and repair calls to agents trust only this CA and
    /// the certificate must name the agent URL's host; when empty, the system's trust store.
    /// </summary>
    public string? AgentCa { get; set; }
}
