

using PartialReplica.Leader.Capture;
namespace PartialReplica.Leader.Dispatch;

/// <summary>
/// Outbox ranges a busy gateway's horizon poll found to concern none of one follower's variables (by the rule
/// the follower's own outbox read applies), so its worker moves its cursor across them instead of reading them:
/// a burst granted to others costs a follower nothing, however many followers there are. Consecutive ranges
/// join; a range that does not continue the last one replaces it, so no change the poll did not examine is
/// ever skipped. Thread-safe: the gate reports, the worker takes.
/// </summary>
internal sealed class UnconcernedRange
{
    private readonly Lock _lock = new();
    private OutboxCursor _from;
    private OutboxCursor _to;
    private bool _any;

    /// <summary>The changes after <paramref name="from"/> up to and including <paramref name="to"/> concern the follower not.</summary>
    public void Add(OutboxCursor from, OutboxCursor to)
    {
        lock (_lock)
        {
            if (!_any || _to != from)
            {
                _from = from;
            }

            _to = to;
            _any = true;
        }
    }

    /// <summary>Where a reader at <paramref name="cursor"/> may continue from: past the range when it stands within it.</summary>
    public OutboxCursor Skip(OutboxCursor cursor)
    {
        lock (_lock)
        {
            return _any && cursor.CompareTo(_from) >= 0 && cursor.CompareTo(_to) < 0 ? _to : cursor;
        }
    }
}
