using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Push;

namespace PartialReplica.Web.Gateway;

/// <summary>Runs the push dispatcher (SPEC F6) inside the gateway for as long as it serves.</summary>
internal sealed class DispatchService(
    NpgsqlDataSource leader, TokenIssuer issuer, IHttpClientFactory httpClients, IOptions<DispatchOptions> options,
    TimeProvider timeProvider, ILogger<DispatchService> logger) : BackgroundService
{
    /// <summary>The named HttpClient used for pushes.</summary>
    public const string HttpClientName = "push";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sender = new HttpBatchSender(httpClients.CreateClient(HttpClientName), new SignedPushTokens(issuer, timeProvider));
        var dispatcher = new Dispatcher(leader, sender, options.Value, logger);
        // Queue depth and lag gauges are sampled beside the dispatcher at its poll interval.
        return Task.WhenAll(
            dispatcher.RunAsync(stoppingToken),
            PushMetrics.SampleBacklogAsync(leader, options.Value.PollInterval, logger, stoppingToken));
    }
}
