using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Conjur;
using PartialReplica.Grants;
using PartialReplica.Leader.Edge;
using PartialReplica.Protocol;
using PartialReplica.Web.Gateway;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// F7, Conjur Edge shape: a follower pulls its granted secrets, ordered by id, as stored ciphertext. The caller
/// is the token's subject; nothing outside its granted set is visible, not even whether it exists (S2).
/// </summary>
public static class EdgeApi
{
    /// <summary>The one answer for "not granted" and "does not exist".</summary>
    private static readonly ErrorBody NotFoundBody = ErrorBody.Of("not_found", "No such variable is granted to you.");

    /// <summary>410 for a position that can no longer be answered.</summary>
    private static readonly ErrorBody GoneBody = ErrorBody.Of("gone",
        "This position is older than the changes the leader keeps (or from before your registration): pull the full list " +
        "again (this URL without since) and continue from its position.");

    /// <summary>410 for a caller that is not a registered follower: the leader records no grant changes for it.</summary>
    private static readonly ErrorBody NoDeltasBody = ErrorBody.Of("gone",
        "Delta pulls are kept for registered followers only: pull the full list (this URL without since); its position is null.");

    public static IEndpointRouteBuilder MapEdgeApi(this IEndpointRouteBuilder app)
    {
        var edge = app.MapGroup("/edge/secrets").WithTags("Edge").RequireAuthorization();
        edge.MapGet("/{account}", ListSecretsAsync)
            .WithSummary("Your granted secrets ordered by id: limit (1..10000, default 1000) with offset or after=<id>; count=true for the total; " +
                "position starts delta pulls. since=<position> alone (with limit): what changed since, current versions or deleted, and next; 410 = pull the full list.");
        edge.MapGet("/{account}/{**identifier}", GetSecretAsync)
            .WithSummary("One granted variable by identifier; 404 alike when not granted or not existing; 400 for an identifier PostgreSQL cannot take.");
        return app;
    }

    public static async Task<Results<Ok<EdgeSecretsResponse>, Ok<CountResponse>, Ok<EdgeDeltaResponse>, BadRequest<ErrorBody>, JsonHttpResult<ErrorBody>, ForbidHttpResult>> ListSecretsAsync(
        string account,
        string? limit,
        string? offset,
        string? after,
        string? count,
        string? since,
        ClaimsPrincipal user,
        [AsParameters] GatewayServices services,
        CancellationToken cancellationToken)
    {
        // Caller text is checked before anything else, so a refused value never reaches a query (CallerText).
        if (CallerInput.Refusal(("account", account, CallerText.MaxNameBytes), ("since", since, EdgePosition.MaxLength)) is { } refused)
        {
            return TypedResults.BadRequest(refused);
        }

        var roleId = user.RoleId();
        if (!SameAccount(roleId, account))
        {
            return TypedResults.Forbid();
        }

        if (since is not null)
        {
            return await DeltaAsync(roleId, since, limit, offset ?? after ?? count, services, cancellationToken);
        }

        if (PageQuery.Parse(limit, offset, after, count, allowAfter: true, out var error) is not { } page)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", error));
        }

        if (page.Count)
        {
            return TypedResults.Ok(new CountResponse(await EdgeFullPull.CountAsync(services.Leader, roleId, cancellationToken)));
        }

        var secrets = await EdgeFullPull.PageWithPositionAsync(
            services.Leader, roleId, new GrantedPage(page.Limit, page.Offset, page.After), cancellationToken);
        LogMessages.EdgePageServed(services.Logger, secrets.Secrets.Count, roleId);
        return TypedResults.Ok(new EdgeSecretsResponse(secrets.Secrets, secrets.Position?.ToString()));
    }

    /// <summary>
    /// F13: <c>since=&lt;position&gt;</c> (from a full pull's <c>position</c> or a delta's <c>next</c>) with an optional
    /// <c>limit</c> → the variables whose state changed for the caller, by id, current versions or tombstones
    /// (<see cref="EdgeDeltaQuery"/> has the rule), and <c>next</c>. 410 when the position can no longer be answered:
    /// the client pulls the full list again.
    /// </summary>
    private static async Task<Results<Ok<EdgeSecretsResponse>, Ok<CountResponse>, Ok<EdgeDeltaResponse>, BadRequest<ErrorBody>, JsonHttpResult<ErrorBody>, ForbidHttpResult>> DeltaAsync(
        string roleId, string since, string? limit, string? otherPaging, GatewayServices services, CancellationToken cancellationToken)
    {
        if (otherPaging is not null)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request",
                "since takes no offset, after or count: a delta pages by itself (limit, then since=<next> while more is true)."));
        }

        if (EdgePosition.TryParse(since, out var problem) is not { } position)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", $"since is refused: {problem}."));
        }

        if (PageQuery.Parse(limit, null, null, null, allowAfter: false, out var error) is not { } page)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", error));
        }

        var delta = await EdgeDeltaQuery.ReadAsync(services.Leader, roleId, position, page.Limit, cancellationToken);
        switch (delta.Outcome)
        {
            case EdgeDeltaOutcome.Gone:
                LogMessages.EdgeDeltaGone(services.Logger, roleId);
                return TypedResults.Json(GoneBody, statusCode: StatusCodes.Status410Gone);
            case EdgeDeltaOutcome.NotAFollower:
                LogMessages.EdgeDeltaNotAFollower(services.Logger, roleId);
                return TypedResults.Json(NoDeltasBody, statusCode: StatusCodes.Status410Gone);
        }

        LogMessages.EdgeDeltaServed(services.Logger, delta.Changes.Count, delta.Changes.Count(c => c.IsTombstone), roleId);
        return TypedResults.Ok(new EdgeDeltaResponse(
            [.. delta.Changes.Select(c => new EdgeDeltaSecret(c.Id, c.Versions, c.IsTombstone))], delta.Next!.ToString(), delta.More));
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

        var secret = await EdgeFullPull.FindAsync(services.Leader, roleId, id, cancellationToken);
        return secret is null ? TypedResults.NotFound(NotFoundBody) : TypedResults.Ok(secret);
    }

    private static bool SameAccount(string roleId, string account) =>
        roleId.StartsWith(account + ":", StringComparison.Ordinal);
}

/// <summary>
/// <c>{"secrets":[{"id","versions":[{"version","expires_at","value"}]}],"position"}</c>; <c>value</c> is base64
/// ciphertext. <c>position</c> (opaque text, null when the caller has no deltas) was taken before the page was read:
/// a client keeps the position of its full pull's first page and sends it as <c>since</c> next time.
/// </summary>
public sealed record EdgeSecretsResponse(IReadOnlyList<GrantedSecret> Secrets, string? Position);

/// <summary>
/// A delta: <c>{"secrets":[{"id","versions":[...]} or {"id","deleted":true}],"next","more"}</c>, ordered by id. The
/// client sends <c>since=next</c> again while <c>more</c> is true (the rest of this delta), and keeps <c>next</c> as its
/// position when <c>more</c> is false.
/// </summary>
public sealed record EdgeDeltaResponse(IReadOnlyList<EdgeDeltaSecret> Secrets, string Next, bool More);

/// <summary>A changed variable: its current kept versions, or <c>deleted: true</c> (drop it; no versions).</summary>
public sealed record EdgeDeltaSecret(
    string Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<SecretVersion>? Versions,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Deleted);
