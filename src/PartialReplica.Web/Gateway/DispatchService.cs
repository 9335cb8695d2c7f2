using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Grants;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Gateway;

/// <summary>Runs the push dispatcher (SPEC F6) inside the gateway for as long as it serves.</summary>
internal sealed class DispatchService(
    NpgsqlDataSource leader, TokenIssuer issuer, IHttpClientFactory httpClients, IOptions<DispatchOptions> options, IOptions<GatewayOptions> gateway,
    TimeProvider timeProvider, IServer server, IHostApplicationLifetime lifetime, LoopSupervisor supervisor, DashboardHistory history,
    SharedState.FollowerChangeBroadcast followerChanges, PushMetrics metrics, ILogger<DispatchService> logger)
    : BackgroundService
{
    /// <summary>The named HttpClient used for pushes.</summary>
    public const string HttpClientName = "push";

    /// <summary>The supervised loop that samples the queue depth and lag gauges.</summary>
    public const string MetricsLoop = "dispatch.metrics";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WarmUpAsync(stoppingToken);
        var sender = new HttpBatchSender(httpClients.CreateClient(HttpClientName), new SignedPushTokens(issuer, timeProvider));
        // Gateway:Id names this gateway among the others (and in listeners and batches); else Dispatch:InstanceId.
        var dispatch = string.IsNullOrEmpty(gateway.Value.Id) ? options.Value : options.Value with { InstanceId = gateway.Value.Id };
        var dispatcher = new Dispatcher(leader, sender, dispatch, logger, metrics, supervisor, PublicUrl);
        dispatcher.Pushed += history.RecordPush;
        followerChanges.Changed += dispatcher.FollowersChanged;
        // Queue depth and lag gauges are sampled beside the dispatcher at its poll interval.
        await Task.WhenAll(
            dispatcher.RunAsync(stoppingToken),
            supervisor.RunAsync(MetricsLoop, token => metrics.SampleBacklogAsync(leader, options.Value.PollInterval, logger, token), stoppingToken),
            WarmUpHttpAsync(stoppingToken));
    }

    /// <summary>
    /// The URL recorded beside this gateway's id: <c>Gateway:PublicUrl</c>, else (once the server listens) its first
    /// address, a wildcard host replaced by the machine's name; null before that.
    /// </summary>
    private string? PublicUrl()
    {
        if (!string.IsNullOrEmpty(gateway.Value.PublicUrl))
        {
            return gateway.Value.PublicUrl;
        }

        if (!lifetime.ApplicationStarted.IsCancellationRequested)
        {
            return null;
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return address is null ? null : Regex.Replace(address, @"://(\+|\*|0\.0\.0\.0|\[::\])(?=[:/]|$)", "://" + Environment.MachineName);
    }

    /// <summary>
    /// Once the gateway listens, asks its own liveness endpoint through the push client, so the first push's
    /// request is not the first this client sends (that one pays for connecting and compiling). Runs beside the
    /// dispatcher; a failure is logged.
    /// </summary>
    private async Task WarmUpHttpAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        await using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            await started.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (stoppingToken.IsCancellationRequested || address is null
            || !Uri.TryCreate(address.Replace("://+:", "://127.0.0.1:", StringComparison.Ordinal).Replace("://*:", "://127.0.0.1:", StringComparison.Ordinal), UriKind.Absolute, out var self))
        {
            return;
        }

        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).GetAsync(new Uri(self, HttpBatchSender.LivenessRoute), stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // Only a warm-up: whatever went wrong, the first push does the same work and reports its own failure.
            LogMessages.PushClientWarmupIncomplete(logger, e);
        }
    }

    /// <summary>
    /// Readies the first push before any follower needs it: compiles the encoder and report reader, reads a
    /// reconcile page for a role that holds nothing (compiling the reader), and signs a throwaway token (loading
    /// the signing key from the leader), so a new follower's first page does not wait for that. A failure (the
    /// leader not up yet, say) is logged; the first push does the same work.
    /// </summary>
    private async Task WarmUpAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        HttpBatchSender.WarmUp();
        try
        {
            await new GrantedSecretsReader(leader).ReadPushPageAsync("partial-replica:warm-up", "", 1, new PageReads(rangeAllowed: false), stoppingToken);
            await issuer.CreateTokenAsync(SignedPushTokens.Subject, "partial-replica/warm-up", TimeSpan.FromMinutes(1), stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogMessages.WarmupIncomplete(logger, e);
        }
    }
}
