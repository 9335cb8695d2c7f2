namespace PartialReplica.Leader.Capture;

/// <summary>
/// A position in the change outbox. Rows are read in (transaction id, change id) order and only from
/// transactions older than every running one, so a row committed late can never fall behind the cursor
/// (change_id order alone is not commit order).
/// </summary>
internal readonly record struct OutboxCursor(long Tx, long ChangeId) : IComparable<OutboxCursor>
{
    public static OutboxCursor Start => new(0, 0);

    public int CompareTo(OutboxCursor other) => Tx != other.Tx ? Tx.CompareTo(other.Tx) : ChangeId.CompareTo(other.ChangeId);
}

/// <summary>One captured change.</summary>
/// <param name="Position">Its place in the outbox.</param>
/// <param name="Kind">upsert, delete, grant, revoke or requeue.</param>
/// <param name="ResourceId">The variable concerned.</param>
/// <param name="Follower">For grant/revoke/requeue, the one follower concerned; null for everyone.</param>
/// <param name="CreatedAt">When it was captured (for lag).</param>
/// <param name="Relevant">
/// Whether the follower must hear of it: a revoke, grant or requeue always; a new or deleted version only
/// of a variable the follower is granted (one it is not granted it does not hold: the revoke removed it).
/// </param>
internal sealed record Change(OutboxCursor Position, string Kind, string ResourceId, string? Follower, DateTime CreatedAt, bool Relevant);
