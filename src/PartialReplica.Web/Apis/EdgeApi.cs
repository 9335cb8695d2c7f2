using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Conjur;
using PartialReplica.Edge;
using PartialReplica.Web.Authentication;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Apis;

/// <summary>
/// F7, Conjur Edge shape: a follower pulls its granted secrets, ordered by id, as stored ciphertext. The caller
/// is the token's subject; nothing outside its granted set is visible, not even whether it exists (S2).
/// </summary>
public static class EdgeApi
{
    /// <summary>The one answer for "not granted" and "does not exist".</summary>
    private static readonly ErrorBody NotFoundBody = ErrorBody.Of("not_found", "No such variable is granted to you.");

    public static IEndpointRouteBuilder MapEdgeApi(this IEndpointRouteBuilder app)
    {
        var edge = app.MapGroup("/edge/secrets").WithTags("Edge").RequireAuthorization();
        edge.MapGet("/{account}", ListSecretsAsync)
            .WithSummary("Your granted secrets ordered by id: limit (1..10000, default 1000) with offset or after=<id>; count=true for the total.");
        edge.MapGet("/{account}/{**identifier}", GetSecretAsync)
            .WithSummary("One granted variable by identifier; 404 alike when not granted or not existing; 400 for an identifier PostgreSQL cannot take.");
        return app;
    }

    public static async Task<Results<Ok<EdgeSecretsResponse>, Ok<CountResponse>, BadRequest<ErrorBody>, ForbidHttpResult>> ListSecretsAsync(
        string account,
        string? limit,
        string? offset,
        string? after,
        string? count,
        ClaimsPrincipal user,
        [AsParameters] GatewayServices services,
        CancellationToken cancellationToken)
    {
        // Caller text is checked before anything else, so a refused value never reaches a query (CallerText).
        if (CallerInput.Refusal(("account", account, CallerText.MaxNameBytes)) is { } refused)
        {
            return TypedResults.BadRequest(refused);
        }

        var roleId = user.RoleId();
        if (!SameAccount(roleId, account))
        {
            return TypedResults.Forbid();
        }

        if (PageQuery.Parse(limit, offset, after, count, allowAfter: true, out var error) is not { } page)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", error));
        }

        if (page.Count)
        {
            return TypedResults.Ok(new CountResponse(await GrantedSecretsQuery.CountAsync(services.Leader, roleId, cancellationToken)));
        }

        var secrets = await GrantedSecretsQuery.PageAsync(
            services.Leader, roleId, new GrantedPage(page.Limit, page.Offset, page.After), cancellationToken);
        GatewayLog.EdgePageServed(services.Logger, secrets.Count, roleId);
        return TypedResults.Ok(new EdgeSecretsResponse(secrets));
    }

    public static async Task<Results<Ok<GrantedSecret>, NotFound<ErrorBody>, BadRequest<ErrorBody>, ForbidHttpResult>> GetSecretAsync(
        string account,
        string identifier,
        ClaimsPrincipal user,
        [AsParameters] GatewayServices services,
        CancellationToken cancellationToken)
    {
        var id = new ConjurId(account, "variable", RouteIds.Decode(identifier)).ToString();
        if (CallerInput.Refusal(("account", account, CallerText.MaxNameBytes), ("variable id", id, CallerText.MaxIdBytes)) is { } refused)
        {
            return TypedResults.BadRequest(refused);
        }

        var roleId = user.RoleId();
        if (!SameAccount(roleId, account))
        {
            return TypedResults.Forbid();
        }

        var secret = await GrantedSecretsQuery.FindAsync(services.Leader, roleId, id, cancellationToken);
        return secret is null ? TypedResults.NotFound(NotFoundBody) : TypedResults.Ok(secret);
    }

    private static bool SameAccount(string roleId, string account) =>
        roleId.StartsWith(account + ":", StringComparison.Ordinal);
}

/// <summary><c>{"secrets":[{"id","versions":[{"version","expires_at","value"}]}]}</c>; <c>value</c> is base64 ciphertext.</summary>
public sealed record EdgeSecretsResponse(IReadOnlyList<GrantedSecret> Secrets);
