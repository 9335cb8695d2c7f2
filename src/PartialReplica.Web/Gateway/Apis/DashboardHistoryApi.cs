using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Status;
using PartialReplica.Web.Gateway.Authentication;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// The dashboard's charts (SPEC F11): the last 15 minutes of per-second lag and push-rate samples this gateway
/// keeps in memory (<see cref="DashboardHistory"/>). Admin only; counts and times, never a value.
/// </summary>
internal static class DashboardHistoryApi
{
    public const string Route = "/status/history";

    public static IEndpointRouteBuilder MapDashboardHistoryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Route, GetHistory)
            .WithTags("Status")
            .RequireAuthorization(GatewayRoles.AdminPolicy)
            .WithSummary("Per follower, one sample a second over the last 15 minutes: lag (ms), pending changes, and pushes per second by this gateway.");
        return app;
    }

    public static JsonHttpResult<DashboardHistoryDocument> GetHistory([FromServices] DashboardHistory history) =>
        TypedResults.Json(history.Snapshot(), StatusDocument.Json);
}
