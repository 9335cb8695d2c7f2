using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace PartialReplica.Web.Gateway;

/// <summary>Ready when the leader answers and has been set up with the gateway's tables.</summary>
internal sealed class LeaderHealthCheck(NpgsqlDataSource leader) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await leader.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT to_regclass('partial_replica.signing_keys') IS NOT NULL", connection);
            return await command.ExecuteScalarAsync(cancellationToken) is true
                ? HealthCheckResult.Healthy("leader reachable and set up")
                : HealthCheckResult.Unhealthy("leader reachable but not set up: run 'partial-replica setup'");
        }
        catch (NpgsqlException e)
        {
            return HealthCheckResult.Unhealthy("leader unreachable", e);
        }
    }
}
