
namespace PartialReplica.Leader.Dispatch;

/// <summary>An auto-reset wake-up: notifications pulse it, a worker waits on it with a poll timeout.</summary>
internal sealed class WakeSignal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
    private readonly Lock _lock = new();

    /// <summary>
    /// Wakes the waiter, or the next one to wait; one wake-up covers any number of pulses. Only pulses release, under
    /// the lock, so an already pulsed signal is seen, not thrown at (a busy gateway pulsed a full one 40 times a
    /// second, each a SemaphoreFullException).
    /// </summary>
    public void Pulse()
    {
        lock (_lock)
        {
            if (_semaphore.CurrentCount == 0)
            {
                _semaphore.Release();
            }
        }
    }

    /// <summary>Returns when pulsed or after <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _semaphore.WaitAsync(timeout, cancellationToken);
}
