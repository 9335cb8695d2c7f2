using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Authn;
using PartialReplica.Configuration;
using PartialReplica.Enrollment;
using PartialReplica.Grants;
using PartialReplica.Leader.Relay;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Gateway.SharedState;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>The admin's view of followers and replica sets (F7 paging and counts, F9 status). Admin role only.</summary>
internal static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("").WithTags("Admin").RequireAuthorization(GatewayRoles.AdminPolicy);
        admin.MapGet("/followers", ListFollowersAsync)
            .WithSummary("Registered followers ordered by name: limit/offset; count=true for the total.");
        admin.MapGet("/followers/{**name}", GetFollowerAsync)
            .WithSummary("One follower's status: replica sets, granted count, replication slot, delivery.");
        admin.MapDelete("/followers/{**name}", RemoveFollowerAsync)
            .WithSummary("Remove a follower as 'follower remove' does (its slot and login on the relay, its registration; its host role stays) and refuse its tokens on every gateway.");
        admin.MapGet("/replica-sets", ListReplicaSetsAsync)
            .WithSummary("Replica sets ordered by id with their follower counts: limit/offset; count=true for the total.");
        admin.MapPost("/signing-keys/rotate", RotateSigningKeyAsync)
            .WithSummary("Retire the token signing key and make a new one; tokens signed with the old key stay valid until they expire.");
        return app;
    }

    public static async Task<Results<Ok<FollowersResponse>, Ok<CountResponse>, BadRequest<ErrorBody>>> ListFollowersAsync(
        string? limit, string? offset, string? after, string? count, [AsParameters] GatewayServices services, CancellationToken cancellationToken)
    {
        if (PageQuery.Parse(limit, offset, after, count, allowAfter: false, out var error) is not { } page)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", error));
        }

        return page.Count
            ? TypedResults.Ok(new CountResponse(await FollowerDirectory.CountAsync(services.Leader, cancellationToken)))
            : TypedResults.Ok(new FollowersResponse(await FollowerDirectory.ListAsync(services.Leader, page.Limit, page.Offset, cancellationToken)));
    }

    public static async Task<Ok<SigningKeyResponse>> RotateSigningKeyAsync([FromServices] SigningKeyRing keys, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SigningKeyResponse(await keys.RotateAsync(cancellationToken)));

    public static async Task<Results<Ok<FollowerStatus>, NotFound<ErrorBody>, BadRequest<ErrorBody>>> GetFollowerAsync(
        string name, [AsParameters] GatewayServices services, [FromServices] RelayAdmin relay, CancellationToken cancellationToken)
    {
        name = RouteIds.Decode(name);
        if (CallerInput.Refusal(("follower name", name, CallerText.MaxIdBytes)) is { } refused)
        {
            return TypedResults.BadRequest(refused);
        }

        var status = await FollowerDirectory.StatusAsync(services.Leader, await relay.GetAsync(cancellationToken), name, cancellationToken);
        return status is null
            ? TypedResults.NotFound(ErrorBody.Of("not_found", $"No follower named '{name}' is registered."))
            : TypedResults.Ok(status);
    }

    public static async Task<Results<NoContent, NotFound<ErrorBody>, BadRequest<ErrorBody>>> RemoveFollowerAsync(
        string name, ClaimsPrincipal user, [AsParameters] GatewayServices services, [FromServices] ITokenRevocations revocations,
        [FromServices] FollowerChangeBroadcast followerChanges, [FromServices] TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        name = RouteIds.Decode(name);
        if (CallerInput.Refusal(("follower name", name, CallerText.MaxIdBytes)) is { } refused)
        {
            return TypedResults.BadRequest(refused);
        }

        if (await FollowerDirectory.RoleIdAsync(services.Leader, name, cancellationToken) is not { } roleId)
        {
            return TypedResults.NotFound(ErrorBody.Of("not_found", $"No follower named '{name}' is registered."));
        }

        await new FollowerCredentials(services.Logger).RemoveAsync(
            ConnectionStrings.Normalize(services.Options.Leader, "leader"), null, name, services.Options.Relay, cancellationToken);
        await revocations.DenyAsync(roleId, timeProvider.GetUtcNow(), cancellationToken);
        await followerChanges.PublishAsync(cancellationToken);
        LogMessages.FollowerRemoved(services.Logger, name, user.RoleId());
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<ReplicaSetsResponse>, Ok<CountResponse>, BadRequest<ErrorBody>>> ListReplicaSetsAsync(
        string? limit, string? offset, string? after, string? count, [AsParameters] GatewayServices services, CancellationToken cancellationToken)
    {
        if (PageQuery.Parse(limit, offset, after, count, allowAfter: false, out var error) is not { } page)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", error));
        }

        var account = services.Options.Account;
        return page.Count
            ? TypedResults.Ok(new CountResponse(await ReplicaSetDirectory.CountAsync(services.Leader, account, cancellationToken)))
            : TypedResults.Ok(new ReplicaSetsResponse(await ReplicaSetDirectory.ListAsync(services.Leader, account, page.Limit, page.Offset, cancellationToken)));
    }
}

/// <summary><c>{"kid":"..."}</c>: the key that signs from now on.</summary>
internal sealed record SigningKeyResponse(string Kid);

/// <summary><c>{"followers":[...]}</c></summary>
internal sealed record FollowersResponse(IReadOnlyList<FollowerSummary> Followers);

/// <summary><c>{"replica_sets":[...]}</c></summary>
internal sealed record ReplicaSetsResponse(IReadOnlyList<ReplicaSetListing> ReplicaSets);
