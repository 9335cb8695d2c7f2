using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Schema;

namespace PartialReplica.Follower;

/// <summary>
/// Tells the agent's replay waits (<see cref="BatchAdmission"/>) that its follower has just replayed a leader heartbeat,
/// so a push waiting for its stamp is checked at once instead of at its next poll. The follower's heartbeat row has a
/// trigger, enabled for the subscription's apply worker, that notifies <see cref="Channel"/> as each beat is applied
/// (migration <c>0004_replay_notify.follower.sql</c>); this LISTENs there, with reconnects and back-off. While it is
/// not listening (or the trigger is missing, on a follower not yet migrated) the waits end at their poll interval,
/// as they did before it existed: a notification only shortens a wait, it never decides one.
/// </summary>
public sealed class ReplayWatch(NpgsqlDataSource follower, ILogger<ReplayWatch> logger)
{
    /// <summary>The channel the follower's heartbeat trigger notifies (empty payload: the position is read, not sent).</summary>
    public const string Channel = "partial_replica_replayed";

    /// <summary>The <c>application_name</c> of the LISTEN connection on the follower (fault tests find it by this name).</summary>
    public const string ApplicationName = "partial-replica agent replay watch";

    private TaskCompletionSource _next = NewSignal();
    private TaskCompletionSource _listening = NewSignal();

    /// <summary>
    /// Completes at the first beat replayed after it was read. Read it before reading the replayed position: a beat
    /// replayed between that read and the wait then still ends the wait.
    /// </summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Completes once the LISTEN is in place (again, after a reconnect).</summary>
    public Task Listening => Volatile.Read(ref _listening).Task;

    /// <summary>Listens until <paramref name="cancellationToken"/> stops it; a lost connection is reopened.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await follower.OpenConnectionAsync(cancellationToken);
                connection.Notification += (_, _) => Signal();
                await connection.ExecuteAsync("SELECT set_config('application_name', $1, false)", cancellationToken, ApplicationName);
                await connection.ExecuteAsync($"LISTEN {SqlIdentifier.Quote(Channel)}", cancellationToken);
                delay = TimeSpan.FromMilliseconds(100);
                // A beat replayed while nobody listened: whoever waits reads the position again now.
                Signal();
                Volatile.Read(ref _listening).TrySetResult();
                while (true)
                {
                    await connection.WaitAsync(cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
            {
                Volatile.Write(ref _listening, NewSignal());
                LogMessages.ReplayWatchFailed(logger, (int)delay.TotalMilliseconds, e);
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 100)), cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private void Signal() => Interlocked.Exchange(ref _next, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
