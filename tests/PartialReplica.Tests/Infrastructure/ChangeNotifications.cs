using Npgsql;

namespace PartialReplica.Tests.Infrastructure;

/// <summary>
/// Counts the leader's change wake-ups (NOTIFY partial_replica_changes). <see cref="CountAsync"/> sends a marker
/// notification and waits for it: notifications arrive in commit order, so every wake-up of a write committed
/// before the call has been counted when it returns.
/// </summary>
internal sealed class ChangeNotifications : IAsyncDisposable
{
    private const string Marker = "change_notifications_test_marker";
    private readonly string _leader;
    private readonly NpgsqlConnection _listener;
    private readonly CancellationTokenSource _stop = new();
    private Task _listening = Task.CompletedTask;
    private int _changes;
    private int _markers;

    private ChangeNotifications(string leader)
    {
        _leader = leader;
        _listener = new NpgsqlConnection(leader);
        _listener.Notification += (_, e) =>
        {
            if (e.Channel == Marker)
            {
                Interlocked.Increment(ref _markers);
            }
            else
            {
                Interlocked.Increment(ref _changes);
            }
        };
    }

    public static async Task<ChangeNotifications> ListenAsync(string leader)
    {
        var notifications = new ChangeNotifications(leader);
        await notifications._listener.OpenAsync();
        await using (var listen = new NpgsqlCommand($"LISTEN partial_replica_changes; LISTEN {Marker}", notifications._listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        notifications._listening = Task.Run(async () =>
        {
            while (!notifications._stop.IsCancellationRequested)
            {
                await notifications._listener.WaitAsync(notifications._stop.Token);
            }
        });
        return notifications;
    }

    /// <summary>Change wake-ups so far, including those of every write committed before this call.</summary>
    public async Task<int> CountAsync()
    {
        var before = Volatile.Read(ref _markers);
        await Db.ExecuteAsync(_leader, $"NOTIFY {Marker}");
        await Eventually.HoldsAsync(() => Task.FromResult(Volatile.Read(ref _markers) > before), "the marker notification");
        return Volatile.Read(ref _changes);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _listening.ContinueWith(_ => { }, TaskScheduler.Default);
        await _listener.DisposeAsync();
        _stop.Dispose();
    }
}
