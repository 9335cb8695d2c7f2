using System.Net;

namespace PartialReplica.Protocol;

/// <summary>
/// The agent's own check refused a batch (SPEC S6: misaddressed, not replayed, ungranted). The gateway does not
/// resend the same batch: it backs off and serves the follower again from its durable cursor, re-reading the states.
/// </summary>
internal sealed class BatchRefusedException(string message, HttpStatusCode status) : HttpRequestException(message, null, status)
{
    /// <summary>The problem codes of the agent's refusals (<c>{"error":{"code":…}}</c>).</summary>
    private static readonly string[] Codes = ["\"misaddressed\"", "\"beyond_replayed_position\"", "\"ungranted\""];

    /// <summary>Whether an agent's answer is one of its refusals (a 403 without such a body is a token refused).</summary>
    public static bool IsRefusal(HttpStatusCode status, string body) =>
        status is HttpStatusCode.Forbidden or HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity
        && Codes.Any(code => body.Contains(code, StringComparison.Ordinal));
}
