namespace PartialReplica.Push;

/// <summary>An auto-reset wake-up: notifications pulse it, a worker waits on it with a poll timeout.</summary>
internal sealed class WakeSignal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Pulse()
    {
        try
        {
            _semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already pulsed; one wake-up covers any number of notifications.
        }
    }

    /// <summary>Returns when pulsed or after <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _semaphore.WaitAsync(timeout, cancellationToken);
}
