using Microsoft.Extensions.Configuration;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// Maps the flat environment names of SPEC F8 (<c>PARTIALREPLICA_LEADER</c>, ...) onto a host's
/// configuration section, for the gateway and the agent alike.
/// </summary>
internal static class FlatEnvironment
{
    /// <summary>
    /// Adds the flat variables that are set (over appsettings and other env vars), then the explicit
    /// overrides (command-line options), which win.
    /// </summary>
    public static void AddFlatEnvironment(
        this IConfigurationBuilder configuration, IEnumerable<(string Variable, string Key)> names, IReadOnlyDictionary<string, string?>? overrides)
    {
        var flat = names
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
