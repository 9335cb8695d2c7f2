
namespace PartialReplica.Protocol;

/// <summary>
/// The agent's check of a decoded batch's shape, before it touches the follower's database: text PostgreSQL would
/// refuse (<see cref="CallerText"/>), and states the apply statements cannot take (a version number twice in one
/// state, a negative stamp). The codec already refuses lengths that run past the body, and never leaves a field
/// null or an expiry outside UTC (<see cref="PushBatchCodec"/>).
/// </summary>
public static class PushBatchCheck
{
    /// <summary>Null when the batch may go on to the agent's own checks; else what is wrong (names and positions, never values).</summary>
    public static string? Problem(PushBatch batch)
    {
        if ((Text("batchId", batch.BatchId, CallerText.MaxNameBytes) ?? Text("gateway", batch.Gateway, CallerText.MaxNameBytes)
            ?? Text("follower", batch.Follower, CallerText.MaxIdBytes)) is { } named)
        {
            return named;
        }

        if (batch.SweepBefore < 0 || batch.SweepEnd < 0)
        {
            return "The batch's sweep stamps are leader positions: never negative.";
        }

        if (((batch.SweepAfter is null ? null : Text("sweepAfter", batch.SweepAfter, CallerText.MaxIdBytes))
            ?? (batch.SweepThrough is null ? null : Text("sweepThrough", batch.SweepThrough, CallerText.MaxIdBytes))) is { } bound)
        {
            return bound;
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

    private static string? Variable(VariableState state, int index)
    {
        if (Text($"variables[{index}].id", state.Id, CallerText.MaxIdBytes) is { } id)
        {
            return id;
        }

        if (state.Stamp < 0)
        {
            return $"variables[{index}].stamp is a leader position: never negative.";
        }

        var numbers = new HashSet<int>();
        for (var v = 0; v < state.Versions.Count; v++)
        {
            if (!numbers.Add(state.Versions[v].Version))
            {
                return $"variables[{index}].versions[{v}] repeats version {state.Versions[v].Version}.";
            }
        }

        return null;
    }

    private static string? Text(string what, string? value, int maxBytes) =>
        CallerText.Problem(value, maxBytes) is { } problem ? $"{what} is refused: {problem}." : null;
}
