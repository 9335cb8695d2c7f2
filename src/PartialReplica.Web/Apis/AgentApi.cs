using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using PartialReplica.Authn;
using PartialReplica.Push;

namespace PartialReplica.Web.Apis;

/// <summary><c>POST /agent/batches</c>: the follower agent's one write endpoint.</summary>
public static class AgentApi
{
    public static IEndpointRouteBuilder MapAgentApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(HttpBatchSender.AgentRoute, ApplyAsync);
        return app;
    }

    private static async Task<Results<Ok<ApplyReport>, UnauthorizedHttpResult, ForbidHttpResult, BadRequest<ErrorBody>>> ApplyAsync(
        HttpRequest request, TokenValidator validator, BatchApplier applier, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var header = request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : "";
        var validation = await validator.ValidateAsync(token, cancellationToken);
        if (!validation.IsValid)
        {
            return TypedResults.Unauthorized();
        }

        // Only the gateway pushes; a follower's own API token (other audience) never gets this far.
        if (validation.Subject != SignedPushTokens.Subject)
        {
            return TypedResults.Forbid();
        }

        PushBatch? batch;
        try
        {
            batch = await request.ReadFromJsonAsync<PushBatch>(HttpBatchSender.Json, cancellationToken);
        }
        catch (System.Text.Json.JsonException)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is not valid JSON of the push format."));
        }

        if (batch is null || batch.Variables is null)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is empty."));
        }

        var report = await applier.ApplyAsync(batch, cancellationToken);
        AgentLog.Applied(loggers.CreateLogger("PartialReplica.Agent"), batch.BatchId, batch.Gateway, report.Variables, report.Skipped, report.Upserts, report.Deletes);
        return TypedResults.Ok(report);
    }
}

internal static partial class AgentLog
{
    [LoggerMessage(3001, LogLevel.Information, "Applied batch {BatchId} from {Gateway}: {Variables} variables, {Skipped} skipped, {Upserts} upserts, {Deletes} deletes")]
    public static partial void Applied(ILogger logger, string batchId, string gateway, int variables, int skipped, int upserts, int deletes);
}
