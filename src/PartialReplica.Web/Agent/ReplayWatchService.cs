using Microsoft.Extensions.Hosting;
using PartialReplica.Follower;

namespace PartialReplica.Web.Agent;

/// <summary>Runs the agent's <see cref="ReplayWatch"/> for the host's lifetime.</summary>
internal sealed class ReplayWatchService(ReplayWatch watch) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => watch.RunAsync(stoppingToken);
}
