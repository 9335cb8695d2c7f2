using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using PartialReplica.Authn;
using PartialReplica.Web.Gateway.Authentication;
using PartialReplica.Web.Hosting;

namespace PartialReplica.Web.Gateway.Apis;

/// <summary>S1: API key → short-lived token, API key rotation, and the public keys that verify tokens.</summary>
internal static class AuthnApi
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
    /// Wrong key and unknown login get the same bare 401, so the answer does not reveal which roles exist. The login
    /// is decoded once, from the raw request target (routing has already decoded all but <c>%2F</c>, so decoding its
    /// value again would turn <c>host%252F…</c> into <c>host/…</c>); a login no Conjur id can be is a 400 before any
    /// query. Failures are limited per login and per client address (<see cref="IAuthenticationFailureLimiter"/>):
    /// over a limit the answer is 429 with <c>Retry-After</c>.
    /// </summary>
    public static async Task<Results<ContentHttpResult, UnauthorizedHttpResult, BadRequest<ErrorBody>, StatusCodeHttpResult>> AuthenticateAsync(
        string account,
        string login,
        HttpRequest request,
        [AsParameters] GatewayServices services,
        [FromServices] TokenIssuer issuer,
        [FromServices] IAuthenticationFailureLimiter limiter,
        [FromServices] ITokenRevocations revocations,
        [FromServices] LeaderTokenRevocationFeed feed,
        [FromServices] TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        (account, login) = RawSegments(request) ?? (account, login);
        if ((ConjurLogin.Unusable(login) ?? ConjurLogin.Unusable(account)) is { } why)
        {
            LogMessages.UnstorableLoginRefused(services.Logger);
            return TypedResults.BadRequest(ErrorBody.Of("bad_request", why));
        }

        var client = request.HttpContext.Connection.RemoteIpAddress;
        if (await limiter.CheckClientAsync(client, cancellationToken) is { Limited: true } clientLimit)
        {
            return TooManyFailures(request, clientLimit);
        }

        using var reader = new StreamReader(request.Body);
        var apiKey = (await reader.ReadToEndAsync(cancellationToken)).Trim();
        var role = account == services.Options.Account ? ConjurLogin.ToRole(account, login) : null;
        if (role is null || apiKey.Length == 0
            || !await ApiKeyAuthenticator.AuthenticateAsync(
                services.Leader, role.ToString(), apiKey, request.HttpContext.Connection.RemoteIpAddress, services.DataKey, cancellationToken))
        {
            LogMessages.AuthenticationRefused(services.Logger, account, login);
            return await limiter.RecordFailureAsync(login, client, cancellationToken) is { Limited: true } limit
                ? TooManyFailures(request, limit)
                : TypedResults.Unauthorized();
        }

        await feed.CatchUpRoleAsync(role.ToString(), cancellationToken);
        await revocations.WaitUntilIssuableAsync(role.ToString(), timeProvider, cancellationToken);
        var token = await issuer.CreateTokenAsync(role.ToString(), services.Options.Issuer, services.Options.TokenLifetime, cancellationToken);
        LogMessages.Authenticated(services.Logger, role.ToString());
        request.HttpContext.Response.Headers.CacheControl = "no-store";
        return TypedResults.Text(token, "text/plain");
    }

    public static async Task<Results<ContentHttpResult, BadRequest<ErrorBody>, ForbidHttpResult, NotFound<ErrorBody>>> RotateApiKeyAsync(
        string account,
        string? role,
        ClaimsPrincipal user,
        HttpResponse response,
        [AsParameters] GatewayServices services,
        [FromServices] ITokenRevocations revocations,
        [FromServices] TimeProvider timeProvider,
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

        LogMessages.ApiKeyRotated(services.Logger, target, caller);
        // Tokens bought with the old key are refused by every gateway from now on (F14), not only once they expire.
        await revocations.DenyAsync(target, timeProvider.GetUtcNow(), cancellationToken);
        response.Headers.CacheControl = "no-store";
        return TypedResults.Text(apiKey, "text/plain");
    }

    public static async Task<Ok<JwksDocument>> GetJwksAsync([FromServices] SigningKeyRing keys, CancellationToken cancellationToken) =>
        TypedResults.Ok(await keys.GetJwksAsync(cancellationToken));

    private static StatusCodeHttpResult TooManyFailures(HttpRequest request, AuthenticationLimit limit)
    {
        request.HttpContext.Response.Headers.RetryAfter =
            Math.Max(1, (long)Math.Ceiling(limit.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return TypedResults.StatusCode(StatusCodes.Status429TooManyRequests);
    }

    /// <summary>
    /// The account and login segments of <c>…/{account}/{login}/authenticate</c> as the client sent them, each
    /// percent-decoded exactly once; null when the server did not keep the raw target.
    /// </summary>
    private static (string Account, string Login)? RawSegments(HttpRequest request)
    {
        var target = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(target))
        {
            return null;
        }

        if (Uri.TryCreate(target, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            target = absolute.GetComponents(UriComponents.Path | UriComponents.KeepDelimiter, UriFormat.UriEscaped);
        }

        var query = target.IndexOfAny(['?', '#']);
        var segments = (query >= 0 ? target[..query] : target).Split('/');
        return segments.Length >= 4 && segments[^1] == "authenticate"
            ? (Uri.UnescapeDataString(segments[^3]), Uri.UnescapeDataString(segments[^2]))
            : null;
    }
}
