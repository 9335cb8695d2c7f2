using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Hosting;

/// <summary>What the gateway and the agent share to fail loudly: supervised background loops and settings checked at start.</summary>
internal static class HostChecks
{
    /// <summary>
    /// Registers the loop supervisor and its registry (reported by <c>/health/ready</c>), an inert
    /// <see cref="LoopFaultPoint"/>, and the check of the listening addresses.
    /// </summary>
    public static IServiceCollection AddHostChecks(this IServiceCollection services)
    {
        services.AddSingleton<LoopHealth>();
        services.AddSingleton<LoopFaultPoint>();
        services.AddSingleton(sp => new LoopSupervisor(
            sp.GetRequiredService<LoopHealth>(), sp.GetRequiredService<ILogger<LoopSupervisor>>(), sp.GetRequiredService<LoopFaultPoint>()));
        services.AddHealthChecks().AddCheck<LoopsHealthCheck>("loops", tags: [HealthApi.ReadyTag]);
        services.AddOptions<ListenUrls>()
            .Configure<IConfiguration>((urls, configuration) => urls.Urls = configuration[WebHostDefaults.ServerUrlsKey])
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ListenUrls>, ListenUrlsValidator>();
        return services;
    }
}
