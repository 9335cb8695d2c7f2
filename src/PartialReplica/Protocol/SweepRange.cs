using System.Text;

namespace PartialReplica.Protocol;

/// <summary>
/// The resource ids a batch's sweep covers (<see cref="PushBatch.SweepBefore"/>): after <see cref="After"/>
/// (exclusive) through <see cref="Through"/> (inclusive); a null bound is open.
/// </summary>
internal sealed record SweepRange(string? After, string? Through)
{
    /// <summary>The batch's range, or null when it sweeps nothing.</summary>
    public static SweepRange? Of(PushBatch batch) => batch.SweepBefore > 0 ? new(batch.SweepAfter, batch.SweepThrough) : null;

    /// <summary>
    /// Whether <paramref name="id"/> lies in the range when ids compare byte by byte in UTF-8, as PostgreSQL's
    /// collation C compares them.
    /// </summary>
    public bool Contains(string id) =>
        (After is null || CompareUtf8(id, After) > 0) && (Through is null || CompareUtf8(id, Through) <= 0);

    /// <summary>The range as a SQL condition on <paramref name="column"/>, numbering its parameters from <paramref name="firstParameter"/>.</summary>
    public (string Sql, object?[] Parameters) Where(string column, int firstParameter)
    {
        var conditions = new List<string>(2);
        var parameters = new List<object?>(2);
        if (After is not null)
        {
            conditions.Add($"{column} > ${firstParameter + parameters.Count}");
            parameters.Add(After);
        }

        if (Through is not null)
        {
            conditions.Add($"{column} <= ${firstParameter + parameters.Count}");
            parameters.Add(Through);
        }

        return (conditions.Count == 0 ? "TRUE" : string.Join(" AND ", conditions), parameters.ToArray());
    }

    /// <summary>UTF-8 byte order: UTF-16 code unit order, except where a surrogate pair meets U+E000–U+FFFF.</summary>
    internal static int CompareUtf8(string a, string b) =>
        a.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0 && b.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0
            ? Math.Sign(string.CompareOrdinal(a, b))
            : Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));
}
