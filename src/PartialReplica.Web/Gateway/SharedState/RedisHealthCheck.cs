using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// Readiness of the shared state: Degraded, never Unhealthy, while Redis does not answer, so load balancers keep the
/// gateway (it still authenticates, with per-gateway limits, and still pushes).
/// </summary>
internal sealed class RedisHealthCheck(RedisLink redis) : IHealthCheck
{
    /// <summary>The check's name in <c>/health/ready</c>.</summary>
    public const string Name = "redis";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(redis.Available
            ? HealthCheckResult.Healthy("redis reachable: authentication limits and token revocations shared")
            : HealthCheckResult.Degraded(
                "redis unreachable: authentication limits count per gateway and token revocations are those this gateway knows until it answers"));
}
