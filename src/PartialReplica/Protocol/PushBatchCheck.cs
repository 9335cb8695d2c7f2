
namespace PartialReplica.Protocol;

/// <summary>
/// The agent's check of a decoded batch's shape, before it touches the follower's database: what the JSON form may
/// leave null, text PostgreSQL would refuse (<see cref="CallerText"/>), and states the apply statements cannot take
/// (a version number twice in one state, an expiry without a time zone, a negative stamp). The binary form already
/// refuses lengths that run past the body (<see cref="PushBatchCodec"/>); this holds for both forms.
/// </summary>
public static class PushBatchCheck
{
    /// <summary>Null when the batch may go on to the agent's own checks; else what is wrong (names and positions, never values).</summary>
    public static string? Problem(PushBatch? batch)
    {
        if (batch is null)
        {
            return "The batch is empty.";
        }

        if ((Text("batchId", batch.BatchId, CallerText.MaxNameBytes) ?? Text("gateway", batch.Gateway, CallerText.MaxNameBytes)
            ?? Text("follower", batch.Follower, CallerText.MaxIdBytes)) is { } named)
        {
            return named;
        }

        if (batch.Variables is null)
        {
            return "The batch has no variables list.";
        }

        if (batch.KeepOnlyStamp < 0 || batch.SweepBefore < 0)
        {
            return "The batch's keep-only and sweep stamps are leader positions: never negative.";
        }

        if (((batch.SweepAfter is null ? null : Text("sweepAfter", batch.SweepAfter, CallerText.MaxIdBytes))
            ?? (batch.SweepThrough is null ? null : Text("sweepThrough", batch.SweepThrough, CallerText.MaxIdBytes))) is { } bound)
        {
            return bound;
        }

        if (batch.KeepOnly is { } keep)
        {
            for (var i = 0; i < keep.Count; i++)
            {
                if (Text($"keepOnly[{i}]", keep[i], CallerText.MaxIdBytes) is { } kept)
                {
                    return kept;
                }
            }
        }

        for (var i = 0; i < batch.Variables.Count; i++)
        {
            if (Variable(batch.Variables[i], i) is { } variable)
            {
                return variable;
            }
        }

        return null;
    }

    private static string? Variable(VariableState? state, int index)
    {
        if (state is null)
        {
            return $"variables[{index}] is null.";
        }

        if (Text($"variables[{index}].id", state.Id, CallerText.MaxIdBytes) is { } id)
        {
            return id;
        }

        if (state.Stamp < 0)
        {
            return $"variables[{index}].stamp is a leader position: never negative.";
        }

        if (state.Versions is null)
        {
            return $"variables[{index}].versions is null (an empty list means \"hold none\").";
        }

        var numbers = new HashSet<int>();
        for (var v = 0; v < state.Versions.Count; v++)
        {
            var where = $"variables[{index}].versions[{v}]";
            if (state.Versions[v] is not { } version)
            {
                return where + " is null.";
            }

            if (version.Value is null)
            {
                return where + ".value is null.";
            }

            if (!numbers.Add(version.Version))
            {
                return where + $" repeats version {version.Version}.";
            }

            // The apply statements write expires_at as a UTC instant; the binary form always is, JSON must say so.
            if (version.ExpiresAt is { Kind: not DateTimeKind.Utc })
            {
                return where + ".expiresAt has no UTC offset (write it with Z).";
            }
        }

        return null;
    }

    private static string? Text(string what, string? value, int maxBytes) =>
        CallerText.Problem(value, maxBytes) is { } problem ? $"{what} is refused: {problem}." : null;
}
