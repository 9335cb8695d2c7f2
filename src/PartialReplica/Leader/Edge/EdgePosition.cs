using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace PartialReplica.Leader.Edge;

/// <summary>
/// Where a pull client's copy of its granted set stands (F13), as the opaque text it stores between syncs.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Since"/> is a transaction id X of the leader (xid8): the copy holds every change of every transaction
/// numbered below X. It is always the <c>xmin</c> of a leader snapshot, so every transaction below X had ended when
/// it was taken and every later change belongs to a transaction numbered X or above — the outbox reader's rule
/// (<c>tx &lt; pg_snapshot_xmin</c>, <see cref="Capture.OutboxReader"/>): a change that commits late with a lower
/// change id cannot fall behind a position, because positions never pass a transaction still running.
/// </para>
/// <para>
/// A continuation (a delta answered in several pages) also carries <see cref="Until"/>, the end of the range the
/// first page fixed, and <see cref="After"/>, the last variable id already sent; the next page sends the ids after
/// it from the same range, and the last page's position is <see cref="Until"/>.
/// </para>
/// Text: <c>v1.&lt;X&gt;</c>, or <c>v1.&lt;X&gt;.&lt;Y&gt;.&lt;base64url of the id's UTF-8&gt;</c> for a continuation.
/// Parsing is strict: canonical decimals, Y ≥ X, the id canonical base64url of an id <see cref="CallerText"/> accepts.
/// </remarks>
public sealed record EdgePosition(long Since, long? Until = null, string? After = null)
{
    private const string Version = "v1";

    /// <summary>The longest text <see cref="TryParse"/> looks at: a continuation after the longest id accepted.</summary>
    public const int MaxLength = 64 + (CallerText.MaxIdBytes + 2) / 3 * 4;

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The opaque text a client stores and sends back as <c>since</c>.</summary>
    public override string ToString()
    {
        var since = Since.ToString(CultureInfo.InvariantCulture);
        return Until is not { } until
            ? $"{Version}.{since}"
            : $"{Version}.{since}.{until.ToString(CultureInfo.InvariantCulture)}.{Base64Url.EncodeToString(Strict.GetBytes(After!))}";
    }

    /// <summary>Reads a position; null and what is wrong with it (never the value itself) when it is not one this gateway issues.</summary>
    public static EdgePosition? TryParse(string? text, out string problem)
    {
        problem = "it is not a position this gateway issued (use the position or next of a previous answer)";
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength)
        {
            return null;
        }

        var parts = text.Split('.');
        if (parts[0] != Version || (parts.Length != 2 && parts.Length != 4) || !TryParseId(parts[1], out var since))
        {
            return null;
        }

        if (parts.Length == 2)
        {
            return new EdgePosition(since);
        }

        if (!TryParseId(parts[2], out var until) || until < since || !TryDecodeId(parts[3], out var after))
        {
            return null;
        }

        return new EdgePosition(since, until, after);
    }

    // Canonical decimal transaction ids only: no sign, no leading zeros, 1 and up, within bigint.
    private static bool TryParseId(string text, out long value)
    {
        value = 0;
        return text.Length is > 0 and <= 19 && text[0] != '0'
            && text.All(char.IsAsciiDigit)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool TryDecodeId(string text, out string id)
    {
        id = "";
        if (text.Length == 0 || !Base64Url.IsValid(text.AsSpan(), out _))
        {
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
            id = Strict.GetString(bytes);
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return false;
        }

        // One text per id: a re-encoding that differs (padding, stray low bits) is not ours.
        return CallerText.IsAcceptable(id, CallerText.MaxIdBytes) && Base64Url.EncodeToString(bytes) == text;
    }
}
