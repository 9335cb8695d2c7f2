using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using PartialReplica.Policies;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>
/// Conjur's policy endpoints (F3): <c>POST</c> load, <c>PUT</c> replace, <c>PATCH</c> update on
/// <c>/policies/{account}/policy/{branch}</c>, <c>?dryRun=true</c>. Admin only. The body is the YAML, at most
/// <see cref="PolicyLimits.MaxPolicyBytes"/> (the CLI's limit too); a larger one is refused with 413 naming the limit.
/// </summary>
internal static class PolicyApi
{
    public static IEndpointRouteBuilder MapPolicyApi(this IEndpointRouteBuilder app)
    {
        var policies = app.MapGroup("/policies/{account}/policy").WithTags("Policies").RequireAuthorization(GatewayRoles.AdminPolicy)
            .WithMetadata(new PolicyBodyLimit());
        policies.MapPost("/{**branch}", (string account, string branch, string? dryRun, HttpRequest request, [AsParameters] GatewayServices services, CancellationToken ct) =>
            LoadAsync(PolicyMode.Load, account, branch, dryRun, request, services, ct)).WithSummary("Load (add only).");
        policies.MapPut("/{**branch}", (string account, string branch, string? dryRun, HttpRequest request, [AsParameters] GatewayServices services, CancellationToken ct) =>
            LoadAsync(PolicyMode.Replace, account, branch, dryRun, request, services, ct)).WithSummary("Replace: delete what the file omits in the branch.");
        policies.MapPatch("/{**branch}", (string account, string branch, string? dryRun, HttpRequest request, [AsParameters] GatewayServices services, CancellationToken ct) =>
            LoadAsync(PolicyMode.Update, account, branch, dryRun, request, services, ct)).WithSummary("Update: delete only through explicit statements.");
        return app;
    }

    private static async Task<Results<Created<PolicyLoadResult>, Ok<PolicyLoadResult>, BadRequest<ErrorBody>, UnprocessableEntity<ErrorBody>, JsonHttpResult<ErrorBody>, ForbidHttpResult>> LoadAsync(
        PolicyMode mode, string account, string branch, string? dryRun, HttpRequest request, GatewayServices services, CancellationToken cancellationToken)
    {
        if (account != services.Options.Account)
        {
            return TypedResults.Forbid();
        }

        if (dryRun is not null and not "true" and not "false")
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "dryRun must be true or false."));
        }

        string text;
        try
        {
            text = await PolicyLimits.ReadAsync(request.Body, "The policy body", cancellationToken);
        }
        catch (PartialReplicaException e) when (e.Message == PolicyLimits.TooLargeMessage("The policy body"))
        {
            return TypedResults.Json(ErrorBody.Of("payload_too_large", e.Message), statusCode: StatusCodes.Status413PayloadTooLarge);
        }
        catch (PartialReplicaException e)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", e.Message));
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "The policy body is empty; send the policy YAML as the request body."));
        }

        try
        {
            var result = await new PolicyLoader(services.Logger).LoadAsync(services.Leader, new PolicyLoadRequest
            {
                PolicyText = text,
                FileName = "policy",
                Account = account,
                Branch = branch.Trim('/'),
                Mode = mode,
                DryRun = dryRun == "true",
                LoaderRoleId = request.HttpContext.User.Identity?.Name,
                DataKey = services.DataKey,
            }, cancellationToken);
            return result.DryRun ? TypedResults.Ok(result) : TypedResults.Created((string?)null, result);
        }
        catch (PartialReplicaException e)
        {
            // Parser and loader errors name file:line:column and the problem; nothing was applied.
            return TypedResults.UnprocessableEntity(ErrorBody.Of("validation_failed", e.Message));
        }
    }
}

/// <summary>
/// Endpoint metadata: the policy endpoints take bodies up to <see cref="PolicyLimits.MaxPolicyBytes"/>, whatever the
/// gateway's general request limit; <see cref="Gateway.RequestBodyLimit"/> applies it and names it when refusing.
/// </summary>
internal sealed class PolicyBodyLimit : IRequestSizeLimitMetadata
{
    /// <inheritdoc />
    public long? MaxRequestBodySize => PolicyLimits.MaxPolicyBytes;
}
