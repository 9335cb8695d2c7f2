using System.Text;
using PartialReplica.Conjur;

namespace PartialReplica.Policies;

/// <summary>
/// How a reference may name a record, by where it stands. Conjur's resolver (conjur-policy-parser, resolver.rb)
/// prepends the enclosing policy to every id that does not start with <c>/</c>, then strips the <c>/</c> and resolves
/// <c>..</c> only in owners, grant and revoke members, and permit and deny roles (RelativePathResolver); its last step
/// (AbsoluteChecker) refuses with "Illegal absolute id" every statement whose subject still starts with <c>/</c>.
/// </summary>
internal enum IdPlace
{
    /// <summary>A declaration: relative to the enclosing policy only (Conjur: a record's subject is its id).</summary>
    Declaration,

    /// <summary>
    /// The subject of a statement, relative to the enclosing policy only: a <c>!grant</c>'s or <c>!revoke</c>'s role,
    /// a <c>!permit</c>'s or <c>!deny</c>'s resource, a <c>!delete</c>'s record (Conjur: "Illegal absolute id"), and a
    /// host factory's layer (Conjur looks the layer up by the literal <c>/</c> id and finds none). A statement about a
    /// record of another branch stands in a policy that encloses that record.
    /// </summary>
    Subject,

    /// <summary>An owner, a grant's or revoke's member, a permit's or deny's role: may also be absolute (<c>/a/b</c>) or climb (<c>../b</c>).</summary>
    RoleReference,
}

/// <summary>
/// Where a statement sits: the branch path (empty for root) and the policy that encloses its records.
/// Resolves ids as Conjur does: relative to the enclosing policy; <c>/</c>-absolute and <c>..</c> only where
/// Conjur resolves them (owners, members, permitted roles); users outside root as <c>name@branch-with-dashes</c>.
/// An absolute id anywhere else is refused at its place, as Conjur refuses it.
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

    /// <summary>
    /// The full id of <paramref name="id"/> of the given kind; null id means the policy's own id. <paramref name="subject"/>
    /// names a statement's subject (such as "a !grant's role") in the refusal of an absolute id.
    /// </summary>
    public ConjurId Resolve(string kind, string? id, SourceMark mark, IdPlace place, string? subject = null)
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
            if (place == IdPlace.Declaration)
            {
                throw PolicyErrors.At(mark, $"Illegal absolute id '{id}': a record is declared relative to its policy; '/' may start only a reference");
            }

            if (place == IdPlace.Subject)
            {
                throw PolicyErrors.At(mark, $"Illegal absolute id '{id}': {subject ?? "a statement's subject"} is named relative to the policy that states it; "
                    + $"state this in a policy that encloses '{id[1..]}' (owners, members and permitted roles may be absolute)");
            }

            path = id[1..];
        }
        else
        {
            path = Path.Length == 0 ? id : Path + "/" + id;
        }

        var segments = path.Split('/');
        if (segments.Contains(".."))
        {
            if (place != IdPlace.RoleReference)
            {
                throw PolicyErrors.At(mark, $"Invalid relative reference: '{id}' ('..' is allowed only in owner, member and permitted role references)");
            }

            path = Climb(segments, id!, mark);
        }

        if (path.Length == 0 || path.EndsWith('/') || path.Contains("//", StringComparison.Ordinal) || path.Any(char.IsControl))
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

        var full = new ConjurId(Account, kind, path);
        if (Encoding.UTF8.GetByteCount(full.ToString()) > PolicyLimits.MaxIdBytes)
        {
            throw PolicyErrors.At(mark, $"the id {kind}:{path[..Math.Min(path.Length, 60)]}... is longer than {PolicyLimits.MaxIdBytes} bytes");
        }

        return full;
    }

    /// <summary>Each <c>..</c> removes itself and the segment before it, as Conjur's relative path resolver does.</summary>
    private static string Climb(string[] segments, string id, SourceMark mark)
    {
        var tokens = segments.ToList();
        int index;
        while ((index = tokens.IndexOf("..")) >= 0)
        {
            if (index == 0)
            {
                throw PolicyErrors.At(mark, $"Invalid relative reference: '{id}' climbs above the root");
            }

            tokens.RemoveRange(index - 1, 2);
        }

        if (tokens.Count == 0)
        {
            throw PolicyErrors.At(mark, $"Invalid relative reference: '{id}'");
        }

        return string.Join('/', tokens);
    }

    private static string TagOf(string kind) => kind == "host_factory" ? "host-factory" : kind;
}

/// <summary>Errors that point at the file.</summary>
internal static class PolicyErrors
{
    public static PartialReplicaException At(SourceMark mark, string problem) => new($"{mark}: {problem}");
}
