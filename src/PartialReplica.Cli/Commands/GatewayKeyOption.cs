using PartialReplica.Authn;

namespace PartialReplica.Cli.Commands;

/// <summary>
/// The gateway key for verbs that sign as the gateway does (<c>listen</c>, <c>replicate</c>, <c>status</c>):
/// only from <c>PARTIALREPLICA_GATEWAY_KEY</c>, never an option (options show in process lists).
/// </summary>
internal static class GatewayKeyOption
{
    /// <summary>The key; a missing or malformed one is one clear error.</summary>
    public static GatewayKey Read() => GatewayKey.FromEnvironment();

    /// <summary>The key when set; null when the variable is unset (a malformed one is still an error).</summary>
    public static GatewayKey? ReadOptional() =>
        string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(GatewayKey.EnvironmentVariable)) ? null : GatewayKey.FromEnvironment();
}
