using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Follower;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Protocol;
using PartialReplica.Status;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Agent.Apis;

/// <summary><c>POST /agent/batches</c>: the follower agent's one write endpoint.</summary>
internal static class AgentApi
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
    internal static async Task<int?> AuthorizeAsync(HttpRequest request, TokenValidator validator, CancellationToken cancellationToken)
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

    /// <summary>
    /// Applies a batch in the binary push format (any other media type is a 415) that passes the agent's own checks
    /// (<see cref="BatchAdmission"/>). Refusals change nothing but the follower's refusals table, and answer with a
    /// problem body naming the reason: 403 <c>misaddressed</c> (the batch names another follower), 409
    /// <c>beyond_replayed_position</c> (a stamp the follower has not replayed within the wait: replication lags, or
    /// the stamp is beyond the leader), 422 <c>ungranted</c> (the follower's replicated policy does not grant a
    /// variable the batch would show).
    /// </summary>
    private static async Task<Results<Ok<ApplyReport>, UnauthorizedHttpResult, StatusCodeHttpResult, BadRequest<ErrorBody>, JsonHttpResult<ErrorBody>>> ApplyAsync(
        HttpRequest request, TokenValidator validator, BatchAdmission admission, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (await AuthorizeAsync(request, validator, cancellationToken) is { } refused)
        {
            return refused == StatusCodes.Status401Unauthorized ? TypedResults.Unauthorized() : TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }

        if (!IsBinaryBatch(request))
        {
            return TypedResults.Json(
                ErrorBody.Of("unsupported_media_type", $"The agent takes batches only in the binary push format ({PushBatchCodec.ContentType})."),
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        PushBatch batch;
        try
        {
            batch = await ReadBinaryAsync(request, cancellationToken);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals while the body is read: over the size limit (413), cut off or malformed (400).
            return TypedResults.StatusCode(e.StatusCode);
        }
        catch (PartialReplicaException e)
        {
            // The codec's messages name lengths and positions, never content.
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The batch is not valid in the binary push format: " + e.Message));
        }

        // Before the follower's database is touched: text PostgreSQL refuses, states the apply cannot take.
        if (PushBatchCheck.Problem(batch) is { } problem)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", problem));
        }

        var logger = loggers.CreateLogger("PartialReplica.Agent");
        AdmissionResult result;
        try
        {
            result = await admission.ApplyAsync(batch, cancellationToken);
        }
        catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The gateway records this as the follower's last error: the cause, not a bare 500.
            LogMessages.FollowerDatabaseUnavailable(logger, batch.BatchId, e);
            return TypedResults.Json(ErrorBody.Of("follower_database_unavailable", FollowerDatabaseFailure(e)), statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (result.Refusal is { } refusal)
        {
            LogMessages.BatchRefused(logger, batch.BatchId, batch.Gateway, refusal.Code, batch.Variables.Count, refusal.Detail);
            return TypedResults.Json(ErrorBody.Of(refusal.Code, "Batch refused: " + refusal.Detail), statusCode: StatusOf(refusal.Reason));
        }

        var report = result.Report!;
        LogMessages.BatchApplied(logger, batch.BatchId, batch.Gateway, report.Variables, report.Skipped, report.Upserts, report.Deletes);
        return TypedResults.Ok(report);
    }

    /// <summary>The status of each refusal; the gateway retries all three, after re-reading the states.</summary>
    public static int StatusOf(RefusalReason reason) => reason switch
    {
        RefusalReason.Misaddressed => StatusCodes.Status403Forbidden,
        RefusalReason.BeyondReplayedPosition => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status422UnprocessableEntity,
    };

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

    private static string FollowerDatabaseFailure(NpgsqlException e) => e switch
    {
        // Connection and shutdown classes (08, 57) say what happened to the server; other errors' texts can quote
        // row contents, so only their code is told.
        PostgresException { SqlState: ['0', '8', ..] or ['5', '7', ..] } postgres => $"follower database unavailable: {postgres.SqlState} {postgres.MessageText}",
        PostgresException postgres => $"follower database failed: SQLSTATE {postgres.SqlState}",
        { InnerException: System.Net.Sockets.SocketException socket } => $"follower database refused connections: {e.Message} ({socket.Message})",
        _ => $"follower database unreachable: {e.Message}",
    };
}
