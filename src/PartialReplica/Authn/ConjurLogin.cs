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

    /// <summary>The longest login accepted; real Conjur ids are far shorter, and logins appear in logs.</summary>
    public const int MaxLength = 1024;

    /// <summary>
    /// Why <paramref name="login"/> (decoded once from its URL segment) can never name a role, checked before any
    /// query: NUL, which PostgreSQL text cannot hold, other control characters, a lone UTF-16 surrogate (no UTF-8
    /// form), or more than <see cref="MaxLength"/> characters. Null when it may be looked up.
    /// </summary>
    public static string? Unusable(string login)
    {
        if (login.Length > MaxLength)
        {
            return $"The login is longer than {MaxLength} characters.";
        }

        if (login.Contains('\0', StringComparison.Ordinal))
        {
            return "The login contains a NUL character, which no Conjur id can hold.";
        }

        if (login.Any(char.IsControl))
        {
            return "The login contains a control character, which no Conjur id holds.";
        }

        for (var i = 0; i < login.Length; i++)
        {
            if (char.IsHighSurrogate(login[i]) && i + 1 < login.Length && char.IsLowSurrogate(login[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(login[i]))
            {
                return "The login is not valid Unicode text.";
            }
        }

        return null;
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
