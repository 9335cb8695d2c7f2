using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using PartialReplica.Conjur;

namespace PartialReplica.Web.Gateway.Authentication;

/// <summary>Who the caller is, and the admin policy.</summary>
internal static class GatewayRoles
{
    public const string SubjectClaim = "sub";
    public const string AdminPolicy = "admin";

    /// <summary>The caller's Conjur role id (the token's subject).</summary>
    public static string RoleId(this ClaimsPrincipal user) =>
        user.FindFirst(SubjectClaim)?.Value ?? throw new InvalidOperationException("The endpoint requires an authenticated caller.");

    /// <summary>Whether the caller is the account's admin user.</summary>
    public static bool IsAdmin(this ClaimsPrincipal user, string account) =>
        user.FindFirst(SubjectClaim)?.Value == new ConjurId(account, "user", "admin").ToString();

    /// <summary>Only <c>account:user:admin</c> passes.</summary>
    public static AuthorizationPolicy Admin(string account) => new AuthorizationPolicyBuilder(GatewayTokenHandler.SchemeName)
        .RequireAuthenticatedUser()
        .RequireAssertion(context => context.User.IsAdmin(account))
        .Build();
}
