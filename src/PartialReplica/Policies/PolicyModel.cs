using PartialReplica.Conjur;

namespace PartialReplica.Policies;

/// <summary>A place in a policy file, printed as <c>file:line:column</c> (1-based).</summary>
public sealed record SourceMark(string File, long Line, long Column)
{
    /// <inheritdoc />
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A reference to a record, by full id, with where the file names it.</summary>
public sealed record PolicyReference(ConjurId Id, SourceMark Mark);

/// <summary>
/// A record the file declares (<c>!user</c>, <c>!variable</c>, <c>!policy</c>...). <see cref="PolicyId"/> is
/// the policy resource that defines it; <see cref="Owner"/> defaults to that policy's role.
/// </summary>
public sealed record PolicyRecord(
    ConjurId Id,
    PolicyReference Owner,
    ConjurId PolicyId,
    IReadOnlyDictionary<string, string> Annotations,
    IReadOnlyList<string> RestrictedTo,
    SourceMark Mark)
{
    /// <summary>Whether the record is a role as well as a resource (variables and webservices are not).</summary>
    public bool IsRole => PolicyKinds.IsRoleKind(Id.Kind);
}

/// <summary><c>!grant</c> (Revoke = false) or <c>!revoke</c>: <see cref="Member"/> joins/leaves <see cref="Role"/>.</summary>
public sealed record PolicyMembership(PolicyReference Role, PolicyReference Member, ConjurId PolicyId, bool Revoke, SourceMark Mark);

/// <summary><c>!permit</c> (Deny = false) or <c>!deny</c> of one privilege.</summary>
public sealed record PolicyPermission(
    PolicyReference Role, string Privilege, PolicyReference Resource, ConjurId PolicyId, bool Deny, SourceMark Mark);

/// <summary><c>!delete</c> of one record.</summary>
public sealed record PolicyDeletion(PolicyReference Record, SourceMark Mark);

/// <summary>A parsed policy file: statements in file order, ids resolved against the branch.</summary>
public sealed record PolicyDocument(
    ConjurId Branch,
    IReadOnlyList<PolicyRecord> Records,
    IReadOnlyList<PolicyMembership> Memberships,
    IReadOnlyList<PolicyPermission> Permissions,
    IReadOnlyList<PolicyDeletion> Deletions);

/// <summary>The kinds of records and what they are.</summary>
public static class PolicyKinds
{
    /// <summary>YAML tag → Conjur kind, for records.</summary>
    public static IReadOnlyDictionary<string, string> RecordTags { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["!policy"] = "policy", ["!user"] = "user", ["!host"] = "host", ["!group"] = "group", ["!layer"] = "layer",
        ["!variable"] = "variable", ["!webservice"] = "webservice", ["!host-factory"] = "host_factory",
    };

    /// <summary>Kinds that are roles as well as resources.</summary>
    public static bool IsRoleKind(string kind) => kind is "policy" or "user" or "host" or "group" or "layer" or "host_factory";
}
