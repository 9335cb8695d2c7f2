using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Grants;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// <c>GET /followers/{name}/explain?variable=ID</c> (SPEC F12): why a follower does or does not receive a variable,
/// the same document <c>explain --json</c> prints. Admin only; ids and privileges, never a secret value.
/// </summary>
internal static class ExplainApi
{
    private const string Suffix = "/explain";

    public static IEndpointRouteBuilder MapExplainApi(this IEndpointRouteBuilder app)
    {
        // The follower's name holds slashes, written as they are (conjur/followers/east-1) or as %2F: a catch-all
        // that ends in /explain, tried before the admin API's GET /followers/{**name}.
        app.MapGet(@"/followers/{**path:regex(^.+\x2Fexplain$)}", ExplainAsync)
            .WithOrder(-1)
            .WithTags("Admin")
            .RequireAuthorization(GatewayRoles.AdminPolicy)
            .WithSummary("Why the follower does or does not receive the variable: per replica set, the chain of role memberships and permissions that grants it, or the nearest missing link.");
        return app;
    }

    public static async Task<Results<JsonHttpResult<GrantExplanation>, NotFound<ErrorBody>, BadRequest<ErrorBody>>> ExplainAsync(
        string path, string? variable, [AsParameters] GatewayServices services, CancellationToken cancellationToken)
    {
        var name = RouteIds.Decode(path[..^Suffix.Length]);
        if (string.IsNullOrWhiteSpace(variable))
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "Name the variable: ?variable=<full variable id>, e.g. ?variable=default:variable:apps/db/password."));
        }

        ExplainResult answer;
        try
        {
            await using var connection = await services.Leader.OpenConnectionAsync(cancellationToken);
            answer = await GrantExplainer.ExplainAsync(connection, services.Options.Account, name, variable, cancellationToken);
        }
        catch (PartialReplicaException e)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", e.Message));
        }

        return answer switch
        {
            ExplainResult.Explained e => TypedResults.Json(e.Explanation, GrantExplanation.Json),
            ExplainResult.UnknownFollower u => TypedResults.NotFound(ErrorBody.Of("not_found", u.Message)),
            ExplainResult.UnknownVariable u => TypedResults.NotFound(ErrorBody.Of("not_found", u.Message)),
            _ => throw new InvalidOperationException($"Unexpected explain result {answer.GetType().Name}."),
        };
    }
}
