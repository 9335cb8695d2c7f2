using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace PartialReplica.Web.Agent;

/// <summary>Ready when the follower database answers.</summary>
internal sealed class FollowerHealthCheck(NpgsqlDataSource follower) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = follower.CreateCommand("SELECT count(*) FROM partial_replica.applied");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy($"follower database: {e.Message}");
        }
    }
}
