using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace PartialReplica.Supervision;

/// <summary>
/// Runs a host's background loops (R8). A loop handles the failures it expects (a leader that does not answer)
/// itself; anything else that escapes it is logged with its stack trace, marks the loop down in
/// <see cref="LoopHealth"/>, and the loop starts again after a back-off that doubles from
/// <see cref="FirstRetry"/> up to <see cref="LastRetry"/>. Cancellation at shutdown ends a loop quietly, and so does
/// a loop that returns.
/// </summary>
public sealed class LoopSupervisor(LoopHealth health, ILogger logger, LoopFaultPoint? faults = null)
{
    /// <summary>The wait before the first restart.</summary>
    public static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between restarts; a loop that ran this long before failing starts the back-off again.</summary>
    public static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(30);

    /// <summary>The loops this supervisor (and any sharing its registry) reports down.</summary>
    public LoopHealth Health => health;

    /// <summary>Runs a long-lived <paramref name="body"/> until it returns or <paramref name="cancellationToken"/> is cancelled.</summary>
    public Task RunAsync(string loop, Func<CancellationToken, Task> body, CancellationToken cancellationToken) =>
        SuperviseAsync(loop, async (_, running, token) =>
        {
            faults?.Reached(loop);
            running();
            await body(token);
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="tick"/> every <paramref name="interval"/> (first at once when <paramref name="tickAtStart"/>,
    /// and at once after a restart, so a recovery shows without waiting a whole interval).
    /// </summary>
    public Task RunPeriodicAsync(
        string loop, TimeSpan interval, bool tickAtStart, Func<CancellationToken, Task> tick, CancellationToken cancellationToken,
        TimeProvider? timeProvider = null) =>
        SuperviseAsync(loop, async (restarted, running, token) =>
        {
            using var timer = new PeriodicTimer(interval, timeProvider ?? TimeProvider.System);
            if (!tickAtStart && !restarted)
            {
                running();
                if (!await timer.WaitForNextTickAsync(token))
                {
                    return;
                }
            }

            do
            {
                faults?.Reached(loop);
                await tick(token);
                running();
            }
            while (await timer.WaitForNextTickAsync(token));
        }, cancellationToken);

    private async Task SuperviseAsync(string loop, Func<bool, Action, CancellationToken, Task> run, CancellationToken cancellationToken)
    {
        var failures = 0;
        void Running()
        {
            if (health.MarkUp(loop))
            {
                LogMessages.LoopRunningAgain(logger, loop, failures);
            }
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await run(failures > 0, Running, cancellationToken);
                health.MarkUp(loop);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                failures = Stopwatch.GetElapsedTime(started) >= LastRetry ? 1 : failures + 1;
                var delay = Backoff(failures);
                health.MarkDown(loop, e, failures);
                LogMessages.LoopFailed(logger, loop, failures, (int)delay.TotalMilliseconds, e);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>The wait after <paramref name="failures"/> failures in a row: doubling, capped, with a little jitter.</summary>
    internal static TimeSpan Backoff(int failures)
    {
        var doubled = FirstRetry.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = Math.Min(doubled, LastRetry.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (1 + (Random.Shared.NextDouble() / 10)));
    }
}
