using PartialReplica.Conjur;

namespace PartialReplica.Authn;

/// <summary>Conjur's login names: <c>alice</c> is the user <c>account:user:alice</c>, <c>host/x/y</c> the host <c>account:host:x/y</c>.</summary>
public static class ConjurLogin
{
    /// <summary>The role a login names, or null when the login is empty or malformed.</summary>
    public static ConjurId? ToRole(string account, string login)
    {
        if (string.IsNullOrEmpty(account) || string.IsNullOrEmpty(login) || login.Any(char.IsControl))
        {
            return null;
        }

        if (login.StartsWith("host/", StringComparison.Ordinal))
        {
            var identifier = login["host/".Length..];
            return identifier.Length == 0 ? null : ConjurId.Host(account, identifier);
        }

        return new ConjurId(account, "user", login);
    }

    /// <summary>
    /// Why <paramref name="login"/> (decoded once from its URL segment) can never name a role, checked before any
    /// query: what <see cref="CallerText"/> refuses for any id (NUL, a lone surrogate, more than
    /// <see cref="CallerText.MaxIdBytes"/> bytes), or a control character, which no Conjur id holds. Null when it may
    /// be looked up.
    /// </summary>
    public static string? Unusable(string login)
    {
        if (CallerText.Problem(login, CallerText.MaxIdBytes) is { } problem)
        {
            return $"The login is refused: {problem}.";
        }

        return login.Any(char.IsControl) ? "The login contains a control character, which no Conjur id holds." : null;
    }

    /// <summary>
    /// A role from Conjur's <c>role=</c> query forms: <c>kind:identifier</c> or a full id <c>account:kind:identifier</c>.
    /// Returns null when it names no known kind.
    /// </summary>
    public static ConjurId? ParseRole(string account, string role)
    {
        if (string.IsNullOrEmpty(role))
        {
            return null;
        }

        var first = role.IndexOf(':', StringComparison.Ordinal);
        if (first > 0 && ConjurId.Kinds.Contains(role[..first]) && first < role.Length - 1)
        {
            return new ConjurId(account, role[..first], role[(first + 1)..]);
        }

        try
        {
            return ConjurId.Parse(role);
        }
        catch (PartialReplicaException)
        {
            return null;
        }
    }
}
