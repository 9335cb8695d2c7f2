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
    public static void Validate(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (InvalidOperationException e) when (e.InnerException is FormatException or ArgumentException or OverflowException)
        {
            // The binder's own message names the key ("Failed to convert configuration value ... at 'Gateway:X' to
            // type ..."); only settings of other types than text can fail so, and their values are no secrets.
            throw new OptionsValidationException(
                "settings", typeof(HostSettings), [$"{e.Message.TrimEnd('.')}: correct it where it is set (option, environment variable or appsettings)."]);
        }
    }
}
