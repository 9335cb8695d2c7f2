namespace PartialReplica.Web.Apis;

/// <summary>Conjur's error shape: <c>{"error":{"code":"...","message":"..."}}</c>. Messages never quote secret values.</summary>
public sealed record ErrorBody(ErrorDetail Error)
{
    public static ErrorBody Of(string code, string message) => new(new ErrorDetail(code, message));
}

/// <summary>The code and message of an <see cref="ErrorBody"/>.</summary>
public sealed record ErrorDetail(string Code, string Message);

/// <summary><c>{"count": N}</c> for <c>count=true</c>.</summary>
public sealed record CountResponse(long Count);
