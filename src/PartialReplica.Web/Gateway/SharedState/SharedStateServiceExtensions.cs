using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>What the gateways share (SPEC F14): in-process without <c>Gateway:Redis</c>, through Redis with it.</summary>
internal static class SharedStateServiceExtensions
{
    /// <summary>
    /// Registers the authentication failure limits, the token deny-list and the follower wake-ups, backed by Redis
    /// when <paramref name="redis"/> (the configured <c>Gateway:Redis</c>) is set; also its readiness check.
    /// </summary>
    public static IServiceCollection AddSharedState(this IServiceCollection services, string? redis)
    {
        services.AddOptions<SharedStateOptions>()
            .BindConfiguration(SharedStateOptions.Section)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SharedStateOptions>, SharedStateOptionsValidator>();
        services.AddSingleton<RedisLink>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisLink>());
        services.AddSingleton<FollowerChangeBroadcast>();
        services.AddHostedService(sp => sp.GetRequiredService<FollowerChangeBroadcast>());
        services.AddSingleton<InProcessTokenRevocations>();
        if (string.IsNullOrWhiteSpace(redis))
        {
            services.AddSingleton<IAuthenticationFailureLimiter, AuthenticationFailureLimiter>();
            services.AddSingleton<ITokenRevocations>(sp => sp.GetRequiredService<InProcessTokenRevocations>());
            return services;
        }

        // The in-process limiter is what the Redis one falls back to while Redis does not answer.
        services.AddSingleton<AuthenticationFailureLimiter>();
        services.AddSingleton<IAuthenticationFailureLimiter, RedisAuthenticationFailureLimiter>();
        services.AddSingleton<ITokenRevocations, RedisTokenRevocations>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>(RedisHealthCheck.Name, tags: [HealthApi.ReadyTag]);
        return services;
    }
}
