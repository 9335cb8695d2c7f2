using System.Collections.Concurrent;

namespace PartialReplica.Supervision;

/// <summary>
/// Which supervised background loops are down right now (R8): a loop is down from the unexpected exception that
/// ended it until it runs again. Shared by every loop of a host; <c>/health/ready</c> reports it.
/// </summary>
public sealed class LoopHealth
{
    private readonly ConcurrentDictionary<string, DownLoop> _down = new(StringComparer.Ordinal);

    /// <summary>The loops down now, by name.</summary>
    public IReadOnlyList<DownLoop> Down => [.. _down.Values.OrderBy(d => d.Loop, StringComparer.Ordinal)];

    internal void MarkDown(string loop, Exception error, int failures) =>
        _down.AddOrUpdate(
            loop,
            name => new DownLoop(name, error.GetType().Name, failures, DateTimeOffset.UtcNow),
            (name, was) => new DownLoop(name, error.GetType().Name, failures, was.Since));

    /// <summary>Marks the loop running; true when it was down.</summary>
    internal bool MarkUp(string loop) => !_down.IsEmpty && _down.TryRemove(loop, out _);
}

/// <summary>
/// A loop that is down: its name, the type of the exception that ended it (never its message, which could quote
/// data), how many times in a row it failed, and since when.
/// </summary>
public sealed record DownLoop(string Loop, string ErrorType, int Failures, DateTimeOffset Since);
