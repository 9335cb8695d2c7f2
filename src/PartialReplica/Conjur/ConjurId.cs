namespace PartialReplica.Conjur;

/// <summary>A Conjur id, <c>account:kind:identifier</c> (<c>default:variable:prod/db/password</c>).</summary>
public sealed record ConjurId(string Account, string Kind, string Identifier)
{
    /// <summary>The kinds Conjur knows.</summary>
    public static IReadOnlySet<string> Kinds { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "user", "host", "group", "layer", "policy", "variable", "webservice", "host_factory",
    };

    /// <summary>Parses a full id; the identifier may itself contain colons.</summary>
    public static ConjurId Parse(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var first = id.IndexOf(':', StringComparison.Ordinal);
        var second = first < 0 ? -1 : id.IndexOf(':', first + 1);
        if (first <= 0 || second <= first + 1 || second == id.Length - 1)
        {
            throw new PartialReplicaException($"'{id}' is not a Conjur id of the form account:kind:identifier.");
        }

        var kind = id[(first + 1)..second];
        if (!Kinds.Contains(kind))
        {
            throw new PartialReplicaException($"'{id}' has unknown kind '{kind}'; expected one of {string.Join(", ", Kinds)}.");
        }

        return new ConjurId(id[..first], kind, id[(second + 1)..]);
    }

    /// <summary>The id of a host role, from its identifier (<c>conjur/followers/east-1</c>).</summary>
    public static ConjurId Host(string account, string identifier) => new(account, "host", identifier);

    /// <inheritdoc />
    public override string ToString() => $"{Account}:{Kind}:{Identifier}";
}
