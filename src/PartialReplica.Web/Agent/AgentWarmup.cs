using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;

namespace PartialReplica.Web.Agent;

/// <summary>
/// Readies the agent for its first push at start-up rather than during it: opens a connection to the follower
/// database (Npgsql learns the server's types on the first one) and fetches the gateway's signing keys.
/// Measured in <c>bench</c> (P1): a new follower's first batch otherwise waited about half a second for the two.
/// Either may fail here (the gateway not up yet, say); that is logged, and the first push does the same work.
/// </summary>
internal sealed partial class AgentWarmup(NpgsqlDataSource follower, IJwksSource keys, ILogger<AgentWarmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using (await follower.OpenConnectionAsync(stoppingToken))
            {
            }

            await keys.GetKeysAsync(refresh: false, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            WarmupIncomplete(logger, e.GetType().Name, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent warm-up incomplete ({ErrorType}: {Error}); the first push will connect and fetch the gateway's keys itself.")]
    private static partial void WarmupIncomplete(ILogger logger, string errorType, string error);
}
