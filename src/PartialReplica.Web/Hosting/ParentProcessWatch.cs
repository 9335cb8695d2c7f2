using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PartialReplica.Supervision;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// Stops the host when the process that started it is gone. A gateway or agent started by <c>bench</c>, the
/// demo or a test carries <c>PARTIALREPLICA_PARENT_PID</c>; if that parent is killed, nothing else would
/// stop its children, and they would linger (and skew the next benchmark). Unset, nothing is watched.
/// </summary>
internal sealed class ParentProcessWatch(
    int parentPid, IHostApplicationLifetime lifetime, LoopSupervisor supervisor, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    /// <summary>The variable naming the parent's process id.</summary>
    public const string Variable = "PARTIALREPLICA_PARENT_PID";

    /// <summary>The supervised loop's name.</summary>
    public const string Loop = "parent-process-watch";

    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    private bool _stopping;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        supervisor.RunPeriodicAsync(Loop, Every, tickAtStart: false, _ =>
        {
            if (!_stopping && !ProcessLiveness.IsAlive(parentPid))
            {
                _stopping = true;
                LogMessages.ParentGone(logger, parentPid);
                lifetime.StopApplication();
            }

            return Task.CompletedTask;
        }, stoppingToken);
}

/// <summary>Registers <see cref="ParentProcessWatch"/> when <c>PARTIALREPLICA_PARENT_PID</c> names a process.</summary>
internal static class ParentProcessWatchExtensions
{
    public static IServiceCollection AddParentProcessWatch(this IServiceCollection services)
    {
        var value = Environment.GetEnvironmentVariable(ParentProcessWatch.Variable);
        if (string.IsNullOrEmpty(value))
        {
            return services;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new PartialReplicaException($"{ParentProcessWatch.Variable} must be a process id, not '{value}'.");
        }

        return services.AddHostedService(sp => new ParentProcessWatch(
            pid, sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<LoopSupervisor>(), sp.GetRequiredService<ILogger<ParentProcessWatch>>()));
    }
}
