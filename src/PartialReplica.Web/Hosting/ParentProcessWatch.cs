using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PartialReplica.Web.Hosting;

/// <summary>
/// Stops the host when the process that started it is gone. A gateway or agent started by <c>bench</c>, the
/// demo or a test carries <c>PARTIALREPLICA_PARENT_PID</c>; if that parent is killed, nothing else would
/// stop its children, and they would linger (and skew the next benchmark). Unset, nothing is watched.
/// </summary>
internal sealed partial class ParentProcessWatch(int parentPid, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    /// <summary>The variable naming the parent's process id.</summary>
    public const string Variable = "PARTIALREPLICA_PARENT_PID";

    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!ProcessLiveness.IsAlive(parentPid))
                {
                    ParentGone(logger, parentPid);
                    lifetime.StopApplication();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping anyway.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The parent process {ParentPid} is gone; stopping.")]
    private static partial void ParentGone(ILogger logger, int parentPid);
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
            pid, sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<ParentProcessWatch>>()));
    }
}
