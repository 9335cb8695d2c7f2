using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PartialReplica.Configuration;

namespace PartialReplica.Leader.Relay;

/// <summary>
/// A long-running process's admin access to the relay (gateway: slot healing, status): the location is read from
/// the leader when first needed and the data source kept. Null while the leader records no relay. A host passes its
/// <paramref name="loggerFactory"/> so the driver's log lines for these connections reach its logs.
/// </summary>
public sealed class RelayAdmin(string leaderConnectionString, string? relayOverride, ILoggerFactory? loggerFactory = null) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlDataSource? _relay;

    /// <summary>The relay's admin data source, or null when the leader has none (setup made none yet).</summary>
    public async Task<NpgsqlDataSource?> GetAsync(CancellationToken cancellationToken)
    {
        if (_relay is { } known)
        {
            return known;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_relay is not null)
            {
                return _relay;
            }

            await using var leaderSource = Create(leaderConnectionString);
            await using var leader = await leaderSource.OpenConnectionAsync(cancellationToken);
            var location = await RelayLocation.TryReadAsync(leader, cancellationToken);
            if (location is null)
            {
                return null;
            }

            _relay = Create(location.AdminConnectionString(leaderConnectionString, relayOverride));
            return _relay;
        }
        finally
        {
            _gate.Release();
        }
    }

    private NpgsqlDataSource Create(string connectionString) =>
        ServiceDataSources.Create(connectionString, loggerFactory ?? NullLoggerFactory.Instance);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_relay is not null)
        {
            await _relay.DisposeAsync();
        }

        _gate.Dispose();
    }
}
