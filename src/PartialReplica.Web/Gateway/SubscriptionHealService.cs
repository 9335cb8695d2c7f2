using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Leader.Relay;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Gateway;

/// <summary>
/// S6: keeps every follower's subscription flowing whoever drops its slot on the relay. Every
/// <see cref="GatewayOptions.SubscriptionCheckInterval"/> one gateway (the one holding the leader's advisory lock)
/// runs <see cref="SlotHealer"/> and asks the agents what it says; each outcome is recorded on the follower's row.
/// A round that fails as expected (a database or an agent unreachable) is logged with its exception and the next
/// round tries again; anything else is the supervisor's (<see cref="Loop"/>): logged, reported, restarted.
/// </summary>
internal sealed class SubscriptionHealService(
    NpgsqlDataSource leader, RelayAdmin relayAdmin, IPushTokenSource tokens, IHttpClientFactory httpClients,
    IOptions<GatewayOptions> options, TimeProvider timeProvider, LoopSupervisor supervisor, ILogger<SubscriptionHealService> logger) : BackgroundService
{
    /// <summary>The named HttpClient for repair requests (a recopy may take a while).</summary>
    public const string HttpClientName = "subscription-repair";

    /// <summary>The supervised loop's name.</summary>
    public const string Loop = "subscription-heal";

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var healer = new SlotHealer(logger, timeProvider) { InactiveAfter = options.Value.SubscriptionInactiveAfter };
        var client = new AgentSubscriptionClient(httpClients.CreateClient(HttpClientName), tokens);
        return supervisor.RunPeriodicAsync(Loop, options.Value.SubscriptionCheckInterval, tickAtStart: true, async token =>
        {
            try
            {
                await CheckOnceAsync(healer, client, token);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or HttpRequestException or PartialReplicaException
                && !token.IsCancellationRequested)
            {
                LogMessages.SubscriptionCheckFailed(logger, e);
            }
        }, stoppingToken, timeProvider);
    }

    private async Task CheckOnceAsync(SlotHealer healer, AgentSubscriptionClient client, CancellationToken cancellationToken)
    {
        var relaySource = await relayAdmin.GetAsync(cancellationToken);
        if (relaySource is null)
        {
            return; // set up without a relay: no follower subscribes
        }

        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        if (!await SlotHealer.TryLockAsync(connection, cancellationToken))
        {
            return;
        }

        try
        {
            IReadOnlyList<SubscriptionRepairRequest> repairs;
            await using (var relay = await relaySource.OpenConnectionAsync(cancellationToken))
            {
                repairs = await healer.CheckAsync(connection, relay, cancellationToken);
            }

            foreach (var repair in repairs)
            {
                try
                {
                    var report = await client.RepairAsync(repair, cancellationToken);
                    await SlotHealer.RecordAsync(connection, repair.Follower, "agent " + report.Done, cancellationToken);
                    LogMessages.SubscriptionRepaired(logger, repair.Follower, report.Done);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or PartialReplicaException && !cancellationToken.IsCancellationRequested)
                {
                    await SlotHealer.RecordAsync(connection, repair.Follower,
                        $"repair {(repair.Recopy ? "(recopy)" : "(re-enable)")} failed: {e.Message}; retried next round", cancellationToken);
                    LogMessages.SubscriptionRepairFailed(logger, repair.Follower, e);
                    // A recopy the agent did not do is owed still: the slot exists now, so ask again until it is done.
                    if (repair.Recopy)
                    {
                        healer.OweRecopy(repair);
                    }
                }
            }
        }
        finally
        {
            await SlotHealer.UnlockAsync(connection, CancellationToken.None);
        }
    }
}
