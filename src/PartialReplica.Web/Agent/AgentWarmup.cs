using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Follower;
using PartialReplica.Schema;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Agent;

/// <summary>
/// Readies the agent for its first push at start-up rather than during it: migrates the follower database to this
/// version's schema, runs the apply path once against the
/// follower database in a transaction it rolls back (<see cref="BatchApplier.WarmUpAsync"/>), and fetches the
/// gateway's signing keys and validates a forged token with them (<see cref="TokenValidator.WarmUpAsync"/>).
/// A new follower's first batch would otherwise wait for these.
/// Either may fail here (the gateway or the follower's schema not there yet, say); that is logged, and the first push
/// does the same work. The agent reports ready (<c>/health/ready</c>) only once this has run.
/// </summary>
internal sealed class AgentWarmup(
    NpgsqlDataSource follower, BatchApplier applier, TokenValidator validator, ILogger<AgentWarmup> logger) : BackgroundService
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether the warm-up has run (successfully or not).</summary>
    public bool Done => _done.Task.IsCompleted;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A follower made by an older version gets the newer schema (a no-op when current): its subscription stops
            // applying when the leader publishes a column its tables lack (heartbeat.leader_lsn once), and the
            // agent's check needs the grant rule functions.
            await AttemptAsync(token => new MigrationRunner(logger).MigrateAsync(follower, DatabaseRole.Follower, token), stoppingToken);
            await AttemptAsync(applier.WarmUpAsync, stoppingToken);
            await AttemptAsync(validator.WarmUpAsync, stoppingToken);
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    private async Task AttemptAsync(Func<CancellationToken, Task> step, CancellationToken stoppingToken)
    {
        try
        {
            await step(stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogMessages.AgentWarmupIncomplete(logger, e);
        }
    }
}

/// <summary>Not ready while the agent warms up (<see cref="AgentWarmup"/>), a fraction of a second after start.</summary>
internal sealed class WarmupHealthCheck(AgentWarmup warmup) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(warmup.Done ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("warming up"));
}
