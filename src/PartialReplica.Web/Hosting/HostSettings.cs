using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace PartialReplica.Web.Hosting;

/// <summary>The settings check a host runs at start, callable before anything else touches the settings.</summary>
public static class HostSettings
{
    /// <summary>
    /// Runs every settings check registered to run at start (<c>ValidateOnStart</c>) now, throwing one
    /// <see cref="OptionsValidationException"/> whose failures each name a setting and where to set it. The
    /// entry point prints those as one line before the host logs anything.
    /// </summary>
    public static void Validate(IServiceProvider services) => services.GetService<IStartupValidator>()?.Validate();
}
