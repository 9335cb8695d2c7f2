using System.Globalization;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// The paging parameters every list takes: <c>limit</c> (default 1000, 1..10000), <c>offset</c> (≥ 0) or
/// keyset <c>after=&lt;id&gt;</c> where the list allows it, and <c>count=true</c> for the total instead of rows.
/// Offsets stop at <see cref="MaxOffset"/> (page further by <c>after</c>); <c>after</c> is an id, so it is held to
/// <see cref="CallerText"/>'s rules and <see cref="CallerText.MaxIdBytes"/>.
/// </summary>
internal sealed record PageQuery(int Limit, int Offset, string? After, bool Count)
{
    public const int DefaultLimit = 1000;
    public const int MaxLimit = 10_000;
    public const int MaxOffset = 10_000_000;

    /// <summary>Parses the raw query values; returns null and a message saying what is wrong on bad input.</summary>
    public static PageQuery? Parse(string? limit, string? offset, string? after, string? count, bool allowAfter, out string error)
    {
        error = "";
        var parsedLimit = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out parsedLimit) || parsedLimit < 1 || parsedLimit > MaxLimit))
        {
            error = $"limit must be a whole number from 1 to {MaxLimit}; got '{Truncate(limit)}'.";
            return null;
        }

        var parsedOffset = 0;
        if (offset is not null && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out parsedOffset) || parsedOffset > MaxOffset))
        {
            error = $"offset must be a whole number from 0 to {MaxOffset} (page further with after=<id>); got '{Truncate(offset)}'.";
            return null;
        }

        if (after is not null && !allowAfter)
        {
            error = "after is not supported on this list; page with limit and offset.";
            return null;
        }

        if (after is not null && (after.Length == 0 || offset is not null))
        {
            error = after.Length == 0 ? "after must name the last id of the previous page." : "Give either after or offset, not both.";
            return null;
        }

        if (after is not null && CallerText.Problem(after, CallerText.MaxIdBytes) is { } problem)
        {
            error = $"after is refused: {problem}.";
            return null;
        }

        var wantCount = false;
        if (count is not null && !bool.TryParse(count, out wantCount))
        {
            error = $"count must be true or false; got '{Truncate(count)}'.";
            return null;
        }

        return new PageQuery(parsedLimit, parsedOffset, after, wantCount);
    }

    // Echo enough of a bad value to recognise it, never a whole pasted blob.
    // Control characters and lone surrogates are shown as '?' so the message itself is plain text.
    private static string Truncate(string value)
    {
        var shown = value.Length <= 40 ? value : value[..40] + "…";
        return string.Create(shown.Length, shown, static (span, text) =>
        {
            for (var i = 0; i < text.Length; i++)
            {
                span[i] = char.IsControl(text[i]) || char.IsSurrogate(text[i]) ? '?' : text[i];
            }
        });
    }
}
