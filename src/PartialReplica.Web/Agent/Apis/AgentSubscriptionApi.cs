using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Npgsql;
using PartialReplica.Authn;
using PartialReplica.Enrollment;
using PartialReplica.Leader.Dispatch;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Agent.Apis;

/// <summary>
/// <c>POST /agent/subscription</c>: the gateway asks the agent to repair its follower's subscription (S6: a slot dropped
/// by anyone heals). Only the gateway's token addressed to this follower is accepted.
/// </summary>
internal static class AgentSubscriptionApi
{
    public static IEndpointRouteBuilder MapAgentSubscriptionApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(AgentSubscriptionClient.Route, RepairAsync);
        return app;
    }

    private static async Task<Results<Ok<SubscriptionRepairReport>, UnauthorizedHttpResult, StatusCodeHttpResult, BadRequest<ErrorBody>>> RepairAsync(
        HttpRequest request, SubscriptionRepairBody? body, TokenValidator validator, NpgsqlDataSource follower, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (await AgentApi.AuthorizeAsync(request, validator, cancellationToken) is { } refused)
        {
            return refused == StatusCodes.Status401Unauthorized ? TypedResults.Unauthorized() : TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }

        if (body is null || string.IsNullOrEmpty(body.Subscription))
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "Name the subscription to repair."));
        }

        if (CallerInput.Refusal(("subscription", body.Subscription, CallerText.MaxNameBytes)) is { } badName)
        {
            return TypedResults.BadRequest(badName);
        }

        try
        {
            var done = await SubscriptionRepair.RunAsync(follower, body.Subscription, body.Recopy, cancellationToken);
            LogMessages.AgentSubscriptionRepaired(loggers.CreateLogger("PartialReplica.Agent"), body.Subscription, done);
            return TypedResults.Ok(new SubscriptionRepairReport(done));
        }
        catch (PartialReplicaException e)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", e.Message));
        }
    }
}
