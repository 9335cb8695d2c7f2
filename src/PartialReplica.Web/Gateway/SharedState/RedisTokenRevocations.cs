using Microsoft.Extensions.Logging;
using PartialReplica.Web.Gateway.Authentication;
using StackExchange.Redis;

namespace PartialReplica.Web.Gateway.SharedState;

/// <summary>
/// <see cref="ITokenRevocations"/> shared by every gateway of a Redis: one key per denied role holding the denial's time
/// (seconds), kept only for <see cref="InProcessTokenRevocations.EntryLifetime"/>. Every validation reads the key (one
/// GET on the same connection as everything else, well under a millisecond on a LAN) rather than a local copy kept
/// fresh by pub/sub: a cache could only make a revocation late (a message lost while a subscription reconnects is
/// never redelivered), and a revocation must hold on every gateway at once. Every denial is also kept in-process: while Redis
/// does not answer, this gateway refuses what it knows (its own denials, and those it read before), and when Redis
/// answers again its own denials of the outage are written there. Denials other gateways made during an outage
/// reach this one only when Redis answers again.
/// </summary>
internal sealed class RedisTokenRevocations : ITokenRevocations
{
    // Keeps the latest denial: a denial never moves earlier.
    private const string DenyScript = """
        local known = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) > known then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        end
        return 1
        """;

    private readonly RedisLink _redis;
    private readonly InProcessTokenRevocations _local;
    private readonly ILogger<RedisTokenRevocations> _logger;

    public RedisTokenRevocations(RedisLink redis, InProcessTokenRevocations local, ILogger<RedisTokenRevocations> logger)
    {
        _redis = redis;
        _local = local;
        _logger = logger;
        redis.Restored += () => _ = CopyLocalDenialsAsync();
    }

    /// <inheritdoc />
    public async ValueTask DenyAsync(string roleId, DateTimeOffset issuedAtOrBefore, CancellationToken cancellationToken)
    {
        await _local.DenyAsync(roleId, issuedAtOrBefore, cancellationToken);
        if (!_redis.Available)
        {
            LogMessages.RevocationKeptLocally(_logger, roleId);
            return;
        }

        try
        {
            await WriteAsync(roleId, issuedAtOrBefore);
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _redis.ReportFailure(e);
            LogMessages.RevocationKeptLocally(_logger, roleId);
        }
    }

    /// <inheritdoc />
    public async ValueTask<DateTimeOffset?> DeniedUntilAsync(string roleId, CancellationToken cancellationToken)
    {
        var local = await _local.DeniedUntilAsync(roleId, cancellationToken);
        if (!_redis.Available)
        {
            return local;
        }

        try
        {
            var shared = await _redis.Database.StringGetAsync(Key(roleId));
            var sharedAt = shared.TryParse(out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : (DateTimeOffset?)null;
            return sharedAt > local || local is null ? sharedAt : local;
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _redis.ReportFailure(e);
            return local;
        }
    }

    private RedisKey Key(string roleId) => _redis.Key("denied-tokens:" + roleId);

    private Task WriteAsync(string roleId, DateTimeOffset issuedAtOrBefore) =>
        _redis.Database.ScriptEvaluateAsync(DenyScript, [Key(roleId)],
            [issuedAtOrBefore.ToUnixTimeSeconds(), (long)InProcessTokenRevocations.EntryLifetime.TotalMilliseconds]);

    private async Task CopyLocalDenialsAsync()
    {
        try
        {
            foreach (var (role, at) in _local.Current())
            {
                await WriteAsync(role, at);
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            _redis.ReportFailure(e);
        }
    }
}
