using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Grants;
using PartialReplica.Status;
using PartialReplica.Web.Gateway.Authentication;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// F9 status over HTTP, for the dashboard (F11): the same document <c>status --json</c> prints, and the
/// replica sets with their counts. Admin only; counts and states, never a secret value.
/// </summary>
internal static class StatusApi
{
    /// <summary>The named HttpClient that asks agents for their own counts.</summary>
    public const string AgentClientName = "agent-status";

    public static IEndpointRouteBuilder MapStatusApi(this IEndpointRouteBuilder app)
    {
        var status = app.MapGroup("/status").WithTags("Status").RequireAuthorization(GatewayRoles.AdminPolicy);
        status.MapGet("", GetStatusAsync)
            .WithSummary("Per follower: replica sets, granted and delivered variables (delivered read by its agent), pending changes, lag, subscription, last error, the gateway serving it; and the live gateways.");
        status.MapGet("/replica-sets", GetReplicaSetsAsync)
            .WithSummary("Every replica set with how many followers receive it and how many variables it carries.");
        return app;
    }

    public static async Task<JsonHttpResult<StatusDocument>> GetStatusAsync([FromServices] StatusReader reader, CancellationToken cancellationToken) =>
        TypedResults.Json(await reader.ReadDocumentAsync(cancellationToken), StatusDocument.Json);

    public static async Task<JsonHttpResult<ReplicaSetsDocument>> GetReplicaSetsAsync(
        [AsParameters] GatewayServices services, CancellationToken cancellationToken)
    {
        await using var connection = await services.Leader.OpenConnectionAsync(cancellationToken);
        var sets = await ReplicaSetCatalog.ListAsync(connection, services.Options.Account, cancellationToken);
        return TypedResults.Json(new ReplicaSetsDocument(sets), StatusDocument.Json);
    }
}
