using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using PartialReplica.Authn;
using Npgsql;
using PartialReplica.Push;
using PartialReplica.Status;

namespace PartialReplica.Web.Apis;

/// <summary><c>POST /agent/batches</c>: the follower agent's one write endpoint.</summary>
public static class AgentApi
{
    public static IEndpointRouteBuilder MapAgentApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(HttpBatchSender.AgentRoute, ApplyAsync);
        app.MapGet(AgentStatusClient.Route, StatusAsync);
        return app;
    }

    /// <summary>Counts from this follower's own database, for <c>status</c>.</summary>
    private static async Task<Results<Ok<LocalStatus>, UnauthorizedHttpResult, StatusCodeHttpResult>> StatusAsync(
        HttpRequest request, TokenValidator validator, NpgsqlDataSource follower, CancellationToken cancellationToken)
    {
        if (await AuthorizeAsync(request, validator, cancellationToken) is { } refused)
        {
            return refused == StatusCodes.Status401Unauthorized ? TypedResults.Unauthorized() : TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }

        return TypedResults.Ok(await FollowerLocalStatus.ReadAsync(follower, cancellationToken));
    }

    /// <summary>Null when the bearer token is the gateway's and addressed to this follower; else 401 or 403.</summary>
    private static async Task<int?> AuthorizeAsync(HttpRequest request, TokenValidator validator, CancellationToken cancellationToken)
    {
        var header = request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : "";
        var validation = await validator.ValidateAsync(token, cancellationToken);
        if (!validation.IsValid)
        {
            return StatusCodes.Status401Unauthorized;
        }

        // Only the gateway pushes; a follower's own API token (other audience) never gets this far.
        return validation.Subject == SignedPushTokens.Subject ? null : StatusCodes.Status403Forbidden;
    }

    private static async Task<Results<Ok<ApplyReport>, UnauthorizedHttpResult, StatusCodeHttpResult, BadRequest<ErrorBody>>> ApplyAsync(
        HttpRequest request, TokenValidator validator, BatchApplier applier, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (await AuthorizeAsync(request, validator, cancellationToken) is { } refused)
        {
            return refused == StatusCodes.Status401Unauthorized ? TypedResults.Unauthorized() : TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }

        PushBatch? batch;
        try
        {
            if (IsBinaryBatch(request))
            {
                batch = await ReadBinaryAsync(request, cancellationToken);
            }
            else if (request.HasJsonContentType())
            {
                batch = await request.ReadFromJsonAsync<PushBatch>(HttpBatchSender.Json, cancellationToken);
            }
            else
            {
                return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
            }
        }
        catch (System.Text.Json.JsonException)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is not valid JSON of the push format."));
        }
        catch (PartialReplicaException e)
        {
            // The codec's messages name lengths and positions, never content.
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is not valid in the binary push format: " + e.Message));
        }

        if (batch is null || batch.Variables is null)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is empty."));
        }

        var report = await applier.ApplyAsync(batch, cancellationToken);
        AgentLog.Applied(loggers.CreateLogger("PartialReplica.Agent"), batch.BatchId, batch.Gateway, report.Variables, report.Skipped, report.Upserts, report.Deletes);
        return TypedResults.Ok(report);
    }

    private static bool IsBinaryBatch(HttpRequest request) =>
        System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && string.Equals(type.MediaType, PushBatchCodec.ContentType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the whole body (Kestrel bounds it by the agent's request size limit) and decodes it.</summary>
    private static async Task<PushBatch> ReadBinaryAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var body = request.BodyReader;
        while (true)
        {
            var read = await body.ReadAsync(cancellationToken);
            if (read.IsCompleted)
            {
                try
                {
                    if (read.Buffer.IsSingleSegment)
                    {
                        return PushBatchCodec.Decode(read.Buffer.FirstSpan);
                    }

                    using var whole = new PooledBufferWriter(checked((int)read.Buffer.Length));
                    foreach (var segment in read.Buffer)
                    {
                        whole.Write(segment.Span);
                    }

                    return PushBatchCodec.Decode(whole.WrittenSpan);
                }
                finally
                {
                    body.AdvanceTo(read.Buffer.End);
                }
            }

            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }
}

internal static partial class AgentLog
{
    [LoggerMessage(3001, LogLevel.Information, "Applied batch {BatchId} from {Gateway}: {Variables} variables, {Skipped} skipped, {Upserts} upserts, {Deletes} deletes")]
    public static partial void Applied(ILogger logger, string batchId, string gateway, int variables, int skipped, int upserts, int deletes);
}
