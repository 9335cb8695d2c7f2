using System.Globalization;
using System.Text;

namespace PartialReplica.Status;

/// <summary>
/// The <c>status</c> table as plain text that fits a given width: the common <c>conjur/followers/</c> prefix is
/// shortened (with a note saying so), cells and notes wrap only between words, and when the columns cannot fit
/// even so, each follower becomes a short block of lines instead. Errors, the breaker and subscription events go
/// under the table as notes, each wrapped to the width. The last column names the gateway that serves the follower.
/// </summary>
public static class StatusTable
{
    public const string FollowerPrefix = "conjur/followers/";

    private static readonly string[] Headers = ["follower", "replica sets", "granted", "delivered", "pending", "lag", "subscription", "last push", "WAL", "gateway"];

    // The follower and replica sets columns (the first two) may wrap their values.
    private const int WrappingColumns = 2;

    // Columns that hold numbers or short values are right-aligned; the others left-aligned.
    private static readonly bool[] RightAligned = [false, false, true, true, true, true, false, true, true, false];

    /// <summary>
    /// The followers' table (<see cref="Render(IReadOnlyList{FollowerStatusRow}, int, DateTimeOffset)"/>), then the live
    /// gateways, one note each: id, URL, how long ago it renewed its lease and the followers it serves.
    /// </summary>
    public static string Render(StatusDocument status, int width, DateTimeOffset now)
    {
        var output = new StringBuilder(Render(status.Followers, width, now));
        if (status.Gateways.Count == 0)
        {
            Wrap("No gateway is live: no follower receives pushes.", width, "    ", output);
        }

        foreach (var gateway in status.Gateways)
        {
            var url = gateway.Url is null ? "" : $" at {gateway.Url}";
            var served = status.Followers.Where(f => f.ServedBy == gateway.Id).Select(f => Short(f.Name)).ToList();
            var serves = served.Count == 0 ? "serves no follower" : "serves " + string.Join(", ", served);
            Wrap($"gateway {gateway.Id}{url} (lease renewed {Age(TimeSpan.FromMilliseconds(gateway.LeaseAgeMs))} ago): {serves}",
                width, "    ", output);
        }

        return output.ToString();
    }

    public static string Render(IReadOnlyList<FollowerStatusRow> rows, int width, DateTimeOffset now)
    {
        width = Math.Max(width, 40);
        var output = new StringBuilder();
        var cells = rows.Select(r => Cells(r, now)).ToList();
        // The gateway column (the last) goes first when the table does not fit: the live gateways' lines under the
        // table (Render of the whole document) name the followers each serves.
        if (!TryTable(cells, width, Headers.Length, output) && !TryTable(cells, width, Headers.Length - 1, output))
        {
            Blocks(rows, cells, width, output);
        }

        if (rows.Any(r => r.Name.StartsWith(FollowerPrefix, StringComparison.Ordinal)))
        {
            Wrap($"Follower names are shown without their {FollowerPrefix} prefix.", width, "", output);
        }

        foreach (var row in rows)
        {
            var name = Short(row.Name);
            if (row.LastError is { } error)
            {
                var since = row.LastErrorSince is { } at ? $" (since {Clock(at)}, {Age(now - at)} ago)" : "";
                Wrap($"{name}: last error{since}: {error}", width, "    ", output);
            }

            if (row.Breaker is { } breaker)
            {
                Wrap($"{name}: breaker {breaker}", width, "    ", output);
            }

            if (row.SubscriptionEvent is { } subscriptionEvent)
            {
                var at = row.SubscriptionEventAt is { } when ? $" ({Clock(when)})" : "";
                Wrap($"{name}: subscription {subscriptionEvent}{at}", width, "    ", output);
            }
        }

        return output.ToString();
    }

    /// <summary>A follower's name without the common prefix.</summary>
    public static string Short(string name) =>
        name.StartsWith(FollowerPrefix, StringComparison.Ordinal) && name.Length > FollowerPrefix.Length ? name[FollowerPrefix.Length..] : name;

    private static string[] Cells(FollowerStatusRow r, DateTimeOffset now) =>
    [
        Short(r.Name),
        r.ReplicaSets.Count == 0 ? "none" : string.Join(", ", r.ReplicaSets),
        r.Granted.ToString(CultureInfo.InvariantCulture),
        r.Delivered?.ToString(CultureInfo.InvariantCulture) ?? "?",
        r.Pending.ToString(CultureInfo.InvariantCulture),
        Lag(r.LagMs),
        r.Subscription,
        r.LastPushAt is { } at ? Age(now - at) + " ago" : "never",
        r.RetainedWalBytes is { } bytes ? Bytes(bytes) : "?",
        r.ServedBy ?? "none",
    ];

    /// <summary>One line per follower when every column fits with its widest word; false when not.</summary>
    private static bool TryTable(List<string[]> cells, int width, int columns, StringBuilder output)
    {
        foreach (var gap in new[] { 2, 1 })
        {
            // Names and replica sets may wrap between words; a value with its unit (1.5 s, 3.5 MiB) and a state stay
            // on one line. Headers wrap between words.
            var minimum = Enumerable.Range(0, columns)
                .Select(c => cells.Select(r => r[c]).SelectMany(v => c < WrappingColumns ? Words(v) : [v]).Concat(Words(Headers[c])).Max(w => w.Length))
                .ToArray();
            var natural = Enumerable.Range(0, columns)
                .Select(c => cells.Select(r => r[c].Length).Append(Headers[c].Length).Max()).ToArray();
            var budget = width - gap * (columns - 1);
            if (minimum.Sum() > budget)
            {
                continue;
            }

            var widths = (int[])natural.Clone();
            while (widths.Sum() > budget)
            {
                // Narrow the widest column that can still give up a character.
                var column = Enumerable.Range(0, widths.Length).Where(c => widths[c] > minimum[c]).MaxBy(c => widths[c]);
                widths[column]--;
            }

            WriteRow(Headers[..columns], widths, gap, output);
            foreach (var row in cells)
            {
                WriteRow(row[..columns], widths, gap, output);
            }

            return true;
        }

        return false;
    }

    private static void WriteRow(string[] row, int[] widths, int gap, StringBuilder output)
    {
        var wrapped = row.Select((cell, c) => WrapWords(cell, widths[c])).ToArray();
        var height = wrapped.Max(lines => lines.Count);
        for (var line = 0; line < height; line++)
        {
            var text = new StringBuilder();
            for (var c = 0; c < row.Length; c++)
            {
                var part = line < wrapped[c].Count ? wrapped[c][line] : "";
                text.Append(c == 0 ? "" : new string(' ', gap));
                text.Append(RightAligned[c] ? part.PadLeft(widths[c]) : part.PadRight(widths[c]));
            }

            output.Append(text.ToString().TrimEnd()).Append('\n');
        }
    }

    /// <summary>The narrow form: the follower's name, then its values as "label value" pairs wrapped between pairs.</summary>
    private static void Blocks(IReadOnlyList<FollowerStatusRow> rows, List<string[]> cells, int width, StringBuilder output)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            Wrap(cells[i][0], width, "  ", output);
            var pairs = Enumerable.Range(1, Headers.Length - 1).Select(c => $"{Headers[c]}: {cells[i][c]}").ToList();
            var line = new StringBuilder("  ");
            foreach (var pair in pairs)
            {
                if (line.Length > 2 && line.Length + 3 + pair.Length > width)
                {
                    output.Append(line.ToString().TrimEnd()).Append('\n');
                    line.Clear().Append("  ");
                }

                if (2 + pair.Length > width)
                {
                    // A pair wider than the line (many replica sets) gets lines of its own.
                    Wrap("  " + pair, width, "    ", output);
                    continue;
                }

                line.Append(line.Length > 2 ? " | " : "").Append(pair);
            }

            output.Append(line.ToString().TrimEnd()).Append('\n');
        }
    }

    /// <summary>Appends <paramref name="text"/> wrapped between words, continuation lines indented.</summary>
    private static void Wrap(string text, int width, string indent, StringBuilder output)
    {
        var first = WrapWords(text, width);
        output.Append(first[0]).Append('\n');
        if (first.Count > 1)
        {
            var rest = string.Join(' ', first.Skip(1));
            foreach (var line in WrapWords(rest, width - indent.Length))
            {
                output.Append(indent).Append(line).Append('\n');
            }
        }
    }

    /// <summary>
    /// Lines of at most <paramref name="width"/> characters, broken only between words. A single word longer than
    /// the width (a long URL) is the one thing cut, as nothing else could keep the line within it.
    /// </summary>
    private static List<string> WrapWords(string text, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in Words(text))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }

            var rest = word;
            while (line.Length == 0 && rest.Length > width)
            {
                lines.Add(rest[..width]);
                rest = rest[width..];
            }

            line.Append(line.Length > 0 ? " " : "").Append(rest);
        }

        lines.Add(line.ToString());
        return lines;
    }

    private static IEnumerable<string> Words(string text) =>
        text.ReplaceLineEndings(" ").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static string Lag(long ms) => ms switch
    {
        < 1000 => $"{ms} ms",
        < 60_000 => (ms / 1000.0).ToString("0.0", CultureInfo.InvariantCulture) + " s",
        _ => Age(TimeSpan.FromMilliseconds(ms)),
    };

    /// <summary>A duration in the largest whole unit that says it: 4 s, 12 min, 3 h, 2 d.</summary>
    public static string Age(TimeSpan age) => age switch
    {
        { TotalSeconds: < 60 } => $"{Math.Max(0, (int)age.TotalSeconds)} s",
        { TotalMinutes: < 60 } => $"{(int)age.TotalMinutes} min",
        { TotalHours: < 48 } => $"{(int)age.TotalHours} h",
        _ => $"{(int)age.TotalDays} d",
    };

    /// <summary>Bytes in binary units, one decimal above a kibibyte.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? $"{bytes} B" : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + "Z";
}
