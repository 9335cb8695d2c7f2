using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace PartialReplica.Web.Hosting;

/// <summary>The settings checks a host's entry point runs first, so a bad setting is one line before anything is logged.</summary>
public static class HostSettings
{
    /// <summary>
    /// Runs every settings check registered to run at start (<c>ValidateOnStart</c>) now, throwing one
    /// <see cref="OptionsValidationException"/> whose failures each name a setting and how to set it.
    /// </summary>
    public static void Validate(IServiceProvider services) => services.GetService<IStartupValidator>()?.Validate();

    /// <summary>
    /// The one-line refusal of a setting the configuration binder could not convert (a duration that is not one, say),
    /// or null when <paramref name="error"/> is something else. The binder's message names the key and the value;
    /// only settings of types other than text fail so, and their values are no secrets.
    /// </summary>
    public static string? Unreadable(Exception error) =>
        error is InvalidOperationException { InnerException: FormatException or ArgumentException or OverflowException }
            && error.TargetSite?.DeclaringType == typeof(ConfigurationBinder)
            ? $"{error.Message.TrimEnd('.')}: correct it where it is set (option, environment variable or appsettings)."
            : null;
}
