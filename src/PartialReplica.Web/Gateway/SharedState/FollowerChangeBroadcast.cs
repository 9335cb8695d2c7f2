using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// Wake-ups about follower changes for every gateway (SPEC F14): a gateway that changes the followers (removes one,
/// or moves its agent) calls <see cref="PublishAsync"/>; every gateway sharing its Redis, itself included, raises
/// <see cref="Changed"/>, which has its dispatcher re-read the followers at once. Without Redis, or while it does not
/// answer, only this gateway is woken: the others learn it from the leader's NOTIFY on the followers table or their
/// next periodic refresh, as they always do (the leader's table stays the truth; a wake-up only makes it sooner).
/// </summary>
internal sealed class FollowerChangeBroadcast(RedisLink redis, ILogger<FollowerChangeBroadcast> logger) : BackgroundService
{
    private const string ChannelName = "followers-changed";

    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Raised when any gateway of the tier (this one included) changed the followers.</summary>
    public event Action? Changed;

    /// <summary>Completes once this gateway hears the other gateways' wake-ups (never without Redis).</summary>
    public Task Subscribed => _subscribed.Task;

    /// <summary>Tells every gateway that the followers changed.</summary>
    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        // This gateway at once; its own subscription hears the message too, and a second refresh costs one query.
        Changed?.Invoke();
        if (!redis.Available)
        {
            return;
        }

        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await redis.Subscriber!.PublishAsync(redis.Channel(ChannelName), "1");
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            redis.ReportFailure(e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!redis.Configured)
        {
            return;
        }

        // The subscription is made once the connection exists; StackExchange.Redis renews it after every reconnect.
        var subscriber = await redis.SubscriberAsync(stoppingToken);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await subscriber.SubscribeAsync(redis.Channel(ChannelName), (_, _) => Changed?.Invoke());
                LogMessages.FollowerWakeupsSubscribed(logger);
                _subscribed.TrySetResult();
                return;
            }
            catch (Exception e) when (RedisLink.IsOutage(e))
            {
                redis.ReportFailure(e);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
