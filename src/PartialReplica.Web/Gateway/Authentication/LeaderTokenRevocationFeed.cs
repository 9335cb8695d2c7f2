using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Configuration;
using PartialReplica.Schema;
using PartialReplica.Supervision;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// Issue 26 (SPEC S1, F14): the revocations the leader records (the leader baseline: a key rotated or a host deleted by
/// Conjur itself, a follower removed by the CLI or through any gateway) reach this gateway's
/// <see cref="ITokenRevocations"/>, with or without Redis. A LISTEN on <see cref="Channel"/> (reconnected with
/// back-off) wakes the reader at once; the reader also polls every <see cref="PollInterval"/>, so a lost connection
/// delays a revocation by a poll at most. Each read takes the rows newer than the newest seen, less
/// <see cref="Overlap"/>: a row's <c>revoked_at</c> is its transaction's clock, not its commit's, so a transaction
/// that commits late is read on a later round (entries are idempotent). <see cref="CatchUpRoleAsync"/> reads one
/// role's row before a token is issued, so a token bought with a key rotated a moment ago is never issued in the
/// very second a denial learned a moment later would cover. Times are the leader's clock throughout. The LISTEN
/// connection comes from <c>listener</c> (<see cref="ListenerFor"/>: not pooled), so it never holds one of the
/// requests' pooled connections.
/// </summary>
internal sealed class LeaderTokenRevocationFeed(
    NpgsqlDataSource leader, NpgsqlDataSource listener, ITokenRevocations revocations, TimeProvider timeProvider, LoopSupervisor supervisor,
    ILogger<LeaderTokenRevocationFeed> logger) : BackgroundService
{
    /// <summary>The NOTIFY channel of the leader baseline's revocation triggers (no payload).</summary>
    public const string Channel = "partial_replica_token_revocations";

    /// <summary>The supervised loop that reads the revocations.</summary>
    public const string Loop = "token-revocations";

    /// <summary>The supervised loop that LISTENs for them.</summary>
    public const string ListenLoop = "token-revocations-listen";

    /// <summary>The <c>application_name</c> of the LISTEN connection (fault tests find it by this name).</summary>
    public const string ListenApplicationName = "partial-replica gateway token revocations";

    /// <summary>How often the rows are read without a notification.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    /// <summary>How far before the newest row seen each read starts again (transactions that commit late).</summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromMinutes(1);

    /// <summary>How often rows older than <see cref="InProcessTokenRevocations.EntryLifetime"/> are deleted.</summary>
    public static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);

    // Named queries. Rows are read by the leader's clock, and only while the tokens they deny can still be valid.
    private const string ReadSince = """
        SELECT role_id, revoked_at FROM partial_replica.token_revocations
         WHERE revoked_at > greatest($1, clock_timestamp() - $2::interval)
         ORDER BY revoked_at
        """;

    private const string ReadRole = """
        SELECT max(revoked_at) FROM partial_replica.token_revocations
         WHERE role_id = $1 AND revoked_at > clock_timestamp() - $2::interval
        """;

    private const string Prune = "DELETE FROM partial_replica.token_revocations WHERE revoked_at < clock_timestamp() - $1::interval";

    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _wakeLock = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, DateTimeOffset> _applied = new(StringComparer.Ordinal);
    private DateTimeOffset _seen = DateTimeOffset.MinValue;
    private DateTimeOffset _prunedAt = DateTimeOffset.MinValue;

    /// <summary>Completes once the revocations within the token lifetime have been read at start.</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>Completes when the LISTEN connection listens (again); replaced at each reconnect.</summary>
    internal Task Listening => Volatile.Read(ref _listening).Task;

    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A data source, without pooling, for the LISTEN connection on <paramref name="leaderConnectionString"/>, logging through the host's factory.</summary>
    public static NpgsqlDataSource ListenerFor(string leaderConnectionString, ILoggerFactory loggerFactory) =>
        ServiceDataSources.Create(new NpgsqlConnectionStringBuilder(leaderConnectionString) { Pooling = false }.ConnectionString, loggerFactory);

    /// <summary>Reads <paramref name="roleId"/>'s latest revocation from the leader and denies its tokens up to it.</summary>
    public async Task CatchUpRoleAsync(string roleId, CancellationToken cancellationToken)
    {
        await using var connection = await leader.OpenConnectionAsync(cancellationToken);
        await using var command = Command(connection, ReadRole, roleId, InProcessTokenRevocations.EntryLifetime);
        if (await command.ExecuteScalarAsync(cancellationToken) is DateTime revokedAt)
        {
            await revocations.DenyAsync(roleId, new DateTimeOffset(revokedAt, TimeSpan.Zero), cancellationToken);
        }
    }

    /// <summary>Reads the rows newer than the newest seen (less the overlap) and denies each role's tokens; returns how many were new.</summary>
    internal async Task<int> ReadOnceAsync(CancellationToken cancellationToken)
    {
        var rows = new List<(string Role, DateTimeOffset At)>();
        await using (var connection = await leader.OpenConnectionAsync(cancellationToken))
        {
            var since = _seen == DateTimeOffset.MinValue ? DateTimeOffset.UnixEpoch : _seen - Overlap;
            await using var command = Command(connection, ReadSince, since, InProcessTokenRevocations.EntryLifetime);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero)));
            }
        }

        var applied = 0;
        foreach (var (role, at) in rows)
        {
            // The overlap reads rows again: each is applied once (a Redis-backed deny-list would write it each time).
            if (_applied.TryGetValue(role, out var known) && known >= at)
            {
                continue;
            }

            await revocations.DenyAsync(role, at, cancellationToken);
            _applied[role] = at;
            _seen = at > _seen ? at : _seen;
            LogMessages.LeaderRevocationApplied(logger, role);
            applied++;
        }

        // Only rows within the overlap can be read again.
        foreach (var (role, at) in _applied)
        {
            if (at < _seen - Overlap)
            {
                _applied.Remove(role);
            }
        }

        return applied;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        supervisor.RunAsync(Loop, ReadLoopAsync, stoppingToken),
        supervisor.RunAsync(ListenLoop, ListenAsync, stoppingToken));

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var failing = false;
        while (true)
        {
            try
            {
                await ReadOnceAsync(cancellationToken);
                _loaded.TrySetResult();
                if (timeProvider.GetUtcNow() - _prunedAt >= PruneInterval)
                {
                    await using var connection = await leader.OpenConnectionAsync(cancellationToken);
                    await using var prune = Command(connection, Prune, InProcessTokenRevocations.EntryLifetime);
                    await prune.ExecuteNonQueryAsync(cancellationToken);
                    _prunedAt = timeProvider.GetUtcNow();
                }

                if (failing)
                {
                    LogMessages.LeaderRevocationsReadAgain(logger);
                    failing = false;
                }
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    LogMessages.LeaderRevocationsUnread(logger, (int)PollInterval.TotalMilliseconds, e);
                    failing = true;
                }
            }

            await _wake.WaitAsync(PollInterval, cancellationToken);
        }
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await using var connection = await listener.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, _) => Wake();
                await using (var name = Command(connection, "SELECT set_config('application_name', $1, false)", ListenApplicationName))
                {
                    await name.ExecuteNonQueryAsync(cancellationToken);
                }

                await using (var listen = Command(connection, $"LISTEN {SqlIdentifier.Quote(Channel)}"))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                delay = TimeSpan.FromMilliseconds(100);
                // Whatever was recorded while nobody listened is read now.
                Wake();
                Volatile.Read(ref _listening).TrySetResult();
                while (true)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                Volatile.Write(ref _listening, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                LogMessages.LeaderRevocationsListenFailed(logger, (int)delay.TotalMilliseconds, e);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 100)), timeProvider, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private void Wake()
    {
        lock (_wakeLock)
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    public override void Dispose()
    {
        _wake.Dispose();
        listener.Dispose();
        base.Dispose();
    }
}
