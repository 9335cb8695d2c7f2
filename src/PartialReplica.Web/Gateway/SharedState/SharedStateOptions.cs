namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// Where the gateways of one leader share state (SPEC F14): <c>Gateway:Redis</c> or <c>PARTIALREPLICA_REDIS</c>, a
/// StackExchange.Redis configuration string (<c>redis.internal:6379,password=…,ssl=true</c>). Empty: each gateway keeps
/// its authentication limits and token revocations in its own process, the embedded default.
/// </summary>
internal sealed class SharedStateOptions
{
    /// <summary>The configuration section (the gateway's own).</summary>
    public const string Section = "Gateway";

    /// <summary>The flat environment variable.</summary>
    public const string EnvironmentVariable = "PARTIALREPLICA_REDIS";

    /// <summary>The StackExchange.Redis configuration string; empty for in-process state.</summary>
    public string? Redis { get; set; }

    /// <summary>Whether the gateways share state through Redis.</summary>
    public bool Shared => !string.IsNullOrWhiteSpace(Redis);
}
