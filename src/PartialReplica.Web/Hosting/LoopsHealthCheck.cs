using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// Degraded while any supervised background loop is down (R8), naming each with the type of the exception that
/// ended it; the host still serves, and the loop restarts on its own.
/// </summary>
internal sealed class LoopsHealthCheck(LoopHealth loops) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var down = loops.Down;
        return Task.FromResult(down.Count == 0
            ? HealthCheckResult.Healthy("every background loop runs")
            : HealthCheckResult.Degraded("background loops down, restarting: " + string.Join(", ", down.Select(d => string.Create(
                CultureInfo.InvariantCulture, $"{d.Loop} ({d.ErrorType}, {d.Failures} failures in a row since {d.Since:HH:mm:ss}Z)")))));
    }
}
