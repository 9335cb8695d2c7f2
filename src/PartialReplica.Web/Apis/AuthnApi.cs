using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Authn;
using PartialReplica.Web.Authentication;
using PartialReplica.Web.Gateway;

namespace PartialReplica.Web.Apis;

/// <summary>S1: API key → short-lived token, API key rotation, and the public keys that verify tokens.</summary>
public static class AuthnApi
{
    public static IEndpointRouteBuilder MapAuthnApi(this IEndpointRouteBuilder app)
    {
        var authn = app.MapGroup("/authn").WithTags("Authn");
        // No Accepts metadata: it would enforce a content type, and Conjur clients post the key as text/plain,
        // form-urlencoded (curl -d) or without any.
        authn.MapPost("/{account}/{login}/authenticate", AuthenticateAsync)
            .WithSummary("Exchange an API key (the raw body) for a token (the raw JWT, ES256, at most 8 minutes).");
        authn.MapPut("/{account}/api_key", RotateApiKeyAsync)
            .RequireAuthorization()
            .WithSummary("Rotate an API key: your own, or with role= any role's when you are the admin. Returns the new key.");

        app.MapGet("/.well-known/jwks.json", GetJwksAsync)
            .WithTags("Authn")
            .WithSummary("The public keys that verify the gateway's tokens.");
        return app;
    }

    /// <summary>
    /// Wrong key and unknown login get the same bare 401, so the answer does not reveal which roles exist.
    /// </summary>
    public static async Task<Results<ContentHttpResult, UnauthorizedHttpResult>> AuthenticateAsync(
        string account,
        string login,
        HttpRequest request,
        [AsParameters] GatewayServices services,
        [FromServices] TokenIssuer issuer,
        CancellationToken cancellationToken)
    {
        login = RouteIds.Decode(login);
        using var reader = new StreamReader(request.Body);
        var apiKey = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        var role = account == services.Options.Account ? ConjurLogin.ToRole(account, login) : null;
        if (role is null || apiKey.Length == 0
            || !await ApiKeyAuthenticator.AuthenticateAsync(
                services.Leader, role.ToString(), apiKey, request.HttpContext.Connection.RemoteIpAddress, services.DataKey, cancellationToken))
        {
            GatewayLog.AuthenticationRefused(services.Logger, account, login);
            return TypedResults.Unauthorized();
        }

        var token = await issuer.CreateTokenAsync(role.ToString(), services.Options.Issuer, services.Options.TokenLifetime, cancellationToken);
        GatewayLog.Authenticated(services.Logger, role.ToString());
        request.HttpContext.Response.Headers.CacheControl = "no-store";
        return TypedResults.Text(token, "text/plain");
    }

    public static async Task<Results<ContentHttpResult, BadRequest<ErrorBody>, ForbidHttpResult, NotFound<ErrorBody>>> RotateApiKeyAsync(
        string account,
        string? role,
        ClaimsPrincipal user,
        HttpResponse response,
        [AsParameters] GatewayServices services,
        CancellationToken cancellationToken)
    {
        if (account != services.Options.Account)
        {
            return TypedResults.NotFound(ErrorBody.Of("not_found", $"This gateway serves account '{services.Options.Account}', not '{account}'."));
        }

        var caller = user.RoleId();
        var target = role is null ? caller : ConjurLogin.ParseRole(account, role)?.ToString();
        if (target is null)
        {
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", "role must be kind:identifier (host:conjur/followers/east-1) or a full role id."));
        }

        if (target != caller && !user.IsAdmin(account))
        {
            return TypedResults.Forbid();
        }

        var apiKey = await ApiKeyAuthenticator.RotateAsync(services.Leader, target, services.DataKey, cancellationToken);
        if (apiKey is null)
        {
            return TypedResults.NotFound(ErrorBody.Of("not_found", $"Role '{target}' does not exist."));
        }

        GatewayLog.ApiKeyRotated(services.Logger, target, caller);
        response.Headers.CacheControl = "no-store";
        return TypedResults.Text(apiKey, "text/plain");
    }

    public static async Task<Ok<JwksDocument>> GetJwksAsync([FromServices] SigningKeyRing keys, CancellationToken cancellationToken) =>
        TypedResults.Ok(await keys.GetJwksAsync(cancellationToken));
}
