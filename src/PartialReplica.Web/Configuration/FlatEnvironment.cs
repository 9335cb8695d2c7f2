using Microsoft.Extensions.Configuration;

namespace PartialReplica.Web.Gateway;

/// <summary>Maps the flat environment names of SPEC F8 onto the <c>Gateway</c> section.</summary>
internal static class GatewayConfiguration
{
    private static readonly (string Variable, string Key)[] FlatNames =
    [
        ("PARTIALREPLICA_LEADER", GatewayOptions.Section + ":" + nameof(GatewayOptions.Leader)),
        ("PARTIALREPLICA_ACCOUNT", GatewayOptions.Section + ":" + nameof(GatewayOptions.Account)),
    ];

    /// <summary>
    /// Adds the flat variables that are set (over appsettings and other env vars), then the explicit
    /// overrides (command-line options), which win.
    /// </summary>
    public static void AddGatewaySources(this IConfigurationBuilder configuration, IReadOnlyDictionary<string, string?>? overrides)
    {
        var flat = FlatNames
            .Select(n => (n.Key, Value: Environment.GetEnvironmentVariable(n.Variable)))
            .Where(n => !string.IsNullOrEmpty(n.Value))
            .ToDictionary(n => n.Key, n => n.Value);
        configuration.AddInMemoryCollection(flat);
        if (overrides is not null)
        {
            configuration.AddInMemoryCollection(overrides);
        }
    }
}
