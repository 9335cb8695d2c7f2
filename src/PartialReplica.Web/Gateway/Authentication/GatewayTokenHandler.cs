using System.Buffers.Text;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PartialReplica.Authn;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>
/// Authenticates requests carrying a gateway token, as Conjur clients send it
/// (<c>Authorization: Token token="..."</c>, the JWT raw or base64-encoded) or as <c>Bearer</c>.
/// The principal's <c>sub</c> claim is the caller's Conjur role id. A valid token whose role's tokens were revoked
/// (<see cref="ITokenRevocations"/>: its API key rotated, or the follower removed) at or after its <c>iat</c> is refused.
/// </summary>
internal sealed class GatewayTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory loggerFactory, UrlEncoder encoder, TokenValidator validator,
    ITokenRevocations revocations)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ConjurToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = ReadToken(Request.Headers.Authorization.ToString());
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        var validation = await validator.ValidateAsync(token, Context.RequestAborted);
        if (!validation.IsValid)
        {
            LogMessages.TokenRefused(Logger, validation.Failure ?? "invalid");
            return AuthenticateResult.Fail("invalid token");
        }

        if (await revocations.IsDeniedAsync(validation.Subject!, IssuedAt(token), Context.RequestAborted))
        {
            LogMessages.TokenRefused(Logger, "revoked: its role's API key was rotated or the follower removed after it was issued");
            return AuthenticateResult.Fail("invalid token");
        }

        var identity = new ClaimsIdentity([new Claim(GatewayRoles.SubjectClaim, validation.Subject!)], SchemeName, GatewayRoles.SubjectClaim, null);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Token realm=\"partial-replica\"";
        return Task.CompletedTask;
    }

    /// <summary>The <c>iat</c> of a token the validator accepted (so it has one, in range).</summary>
    private static DateTimeOffset IssuedAt(string token)
    {
        var payload = token.Split('.')[1];
        using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(payload));
        return DateTimeOffset.FromUnixTimeSeconds(claims.RootElement.GetProperty("iat").GetInt64());
    }

    private static string? ReadToken(string header)
    {
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        const string conjurPrefix = "Token token=\"";
        if (!header.StartsWith(conjurPrefix, StringComparison.OrdinalIgnoreCase) || !header.EndsWith('"'))
        {
            return null;
        }

        var value = header[conjurPrefix.Length..^1];
        if (value.Contains('.', StringComparison.Ordinal))
        {
            return value;
        }

        // Conjur's clients base64-encode the token they were given.
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(value));
        }
        catch (FormatException)
        {
            return value;
        }
    }
}
