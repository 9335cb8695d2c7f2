
namespace PartialReplica.Web.Hosting;

/// <summary>Conjur's error shape: <c>{"error":{"code":"...","message":"..."}}</c>. Messages never quote secret values.</summary>
internal sealed record ErrorBody(ErrorDetail Error)
{
    public static ErrorBody Of(string code, string message) => new(new ErrorDetail(code, message));
}

/// <summary>The code and message of an <see cref="ErrorBody"/>.</summary>
internal sealed record ErrorDetail(string Code, string Message);

/// <summary><c>{"count": N}</c> for <c>count=true</c>.</summary>
internal sealed record CountResponse(long Count);

/// <summary>Caller text checked by <see cref="CallerText"/> before any handler passes it to a query.</summary>
internal static class CallerInput
{
    /// <summary>Null when every value is acceptable; else the 400 body naming the first one refused and why (never the value).</summary>
    public static ErrorBody? Refusal(params (string What, string? Value, int MaxBytes)[] values)
    {
        foreach (var (what, value, maxBytes) in values)
        {
            if (value is not null && CallerText.Problem(value, maxBytes) is { } problem)
            {
                return ErrorBody.Of("bad_request", $"{what} is refused: {problem}.");
            }
        }

        return null;
    }
}
