using PartialReplica.Conjur;

namespace PartialReplica.Policies;

/// <summary>
/// Where a statement sits: the branch path (empty for root) and the policy that defines its records.
/// Resolves ids as Conjur does: relative to the branch, absolute with a leading <c>/</c>, users of a
/// non-root branch as <c>name@branch-with-dashes</c>.
/// </summary>
internal sealed record PolicyScope(string Account, string Path, ConjurId PolicyId)
{
    /// <summary>The scope of a branch given as <c>root</c> or <c>a/b</c>.</summary>
    public static PolicyScope ForBranch(string account, string branch)
    {
        var path = branch is "root" or "/" or "" ? "" : branch.Trim('/');
        return new PolicyScope(account, path, new ConjurId(account, "policy", path.Length == 0 ? "root" : path));
    }

    /// <summary>The scope inside a nested <c>!policy</c> whose full identifier is given.</summary>
    public PolicyScope Enter(string policyIdentifier) =>
        new(Account, policyIdentifier, new ConjurId(Account, "policy", policyIdentifier));

    /// <summary>The full id of <paramref name="id"/> of the given kind; null id means the policy's own id.</summary>
    public ConjurId Resolve(string kind, string? id, SourceMark mark)
    {
        string path;
        if (string.IsNullOrEmpty(id))
        {
            if (Path.Length == 0)
            {
                throw PolicyErrors.At(mark, $"missing id for !{TagOf(kind)} (only records inside a !policy may omit it)");
            }

            path = Path;
        }
        else if (id.StartsWith('/'))
        {
            path = id[1..];
        }
        else
        {
            path = Path.Length == 0 ? id : Path + "/" + id;
        }

        if (path.Length == 0 || path.EndsWith('/') || path.Contains("//", StringComparison.Ordinal)
            || path.Any(c => char.IsControl(c)))
        {
            throw PolicyErrors.At(mark, $"'{id}' is not a valid id (empty segment or control character)");
        }

        if (kind == "user")
        {
            var slash = path.LastIndexOf('/');
            if (slash > 0)
            {
                path = path[(slash + 1)..] + "@" + path[..slash].Replace('/', '-');
            }
        }

        return new ConjurId(Account, kind, path);
    }

    private static string TagOf(string kind) => kind == "host_factory" ? "host-factory" : kind;
}

/// <summary>Errors that point at the file.</summary>
internal static class PolicyErrors
{
    public static PartialReplicaException At(SourceMark mark, string problem) => new($"{mark}: {problem}");
}
