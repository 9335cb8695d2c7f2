using PartialReplica.Conjur;

namespace PartialReplica.Policies;

/// <summary>A place in a policy file, printed as <c>file:line:column</c> (1-based).</summary>
internal sealed record SourceMark(string File, long Line, long Column)
{
    /// <inheritdoc />
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>A reference to a record, by full id, with where the file names it.</summary>
internal sealed record PolicyReference(ConjurId Id, SourceMark Mark);

/// <summary>
/// A record the file declares (<c>!user</c>, <c>!variable</c>, <c>!policy</c>, <c>!resource</c>...).
/// <see cref="PolicyId"/> is the branch the file is loaded into (Conjur stamps every row of a load with it);
/// <see cref="Owner"/> defaults to the enclosing policy's role, or at root to the root policy's owner
/// (<see cref="OwnedByBranchOwner"/>, resolved by the loader).
/// </summary>
internal sealed record PolicyRecord(
    ConjurId Id,
    PolicyReference Owner,
    ConjurId PolicyId,
    IReadOnlyDictionary<string, string> Annotations,
    IReadOnlyList<string> RestrictedTo,
    SourceMark Mark)
{
    /// <summary>Whether the record is a role (users, hosts, groups, layers, policies, host factories, <c>!role</c>).</summary>
    public bool IsRole { get; init; } = PolicyKinds.IsRoleKind(Id.Kind);

    /// <summary>Whether the record is a resource (all but <c>!role</c>).</summary>
    public bool IsResource { get; init; } = true;

    /// <summary>Declared at root with no <c>owner:</c>: owned, as in Conjur, by the owner of the root policy.</summary>
    public bool OwnedByBranchOwner { get; init; }
}

/// <summary>
/// <c>!grant</c> (Revoke = false) or <c>!revoke</c>: <see cref="Member"/> joins/leaves <see cref="Role"/>, with the
/// admin option when granted through <c>!member</c> with <c>admin: true</c>.
/// </summary>
internal sealed record PolicyMembership(PolicyReference Role, PolicyReference Member, ConjurId PolicyId, bool Revoke, SourceMark Mark)
{
    public bool Admin { get; init; }
}

/// <summary><c>!permit</c> (Deny = false) or <c>!deny</c> of one privilege.</summary>
internal sealed record PolicyPermission(
    PolicyReference Role, string Privilege, PolicyReference Resource, ConjurId PolicyId, bool Deny, SourceMark Mark);

/// <summary><c>!delete</c> of one record.</summary>
internal sealed record PolicyDeletion(PolicyReference Record, SourceMark Mark);

/// <summary>
/// A user's public key (<c>public_keys:</c>): its <c>public_key</c> resource and the key's value, trimmed, which Conjur
/// keeps as that resource's secret.
/// </summary>
internal sealed record PolicyPublicKey(ConjurId Resource, string Value, SourceMark Mark);

/// <summary>A parsed policy file: statements in file order, ids resolved against the branch.</summary>
internal sealed record PolicyDocument(
    ConjurId Branch,
    IReadOnlyList<PolicyRecord> Records,
    IReadOnlyList<PolicyMembership> Memberships,
    IReadOnlyList<PolicyPermission> Permissions,
    IReadOnlyList<PolicyDeletion> Deletions)
{
    /// <summary>The users' public keys, in file order (a key named twice is stored in that order, as Conjur does).</summary>
    public IReadOnlyList<PolicyPublicKey> PublicKeys { get; init; } = [];
}

/// <summary>The kinds of records and what they are.</summary>
internal static class PolicyKinds
{
    /// <summary>YAML tag → Conjur kind, for records.</summary>
    public static IReadOnlyDictionary<string, string> RecordTags { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["!policy"] = "policy", ["!user"] = "user", ["!host"] = "host", ["!group"] = "group", ["!layer"] = "layer",
        ["!variable"] = "variable", ["!webservice"] = "webservice", ["!host-factory"] = "host_factory",
    };

    /// <summary>Tags whose kind is given by a <c>kind:</c> field (Conjur's custom records).</summary>
    public static bool IsCustomKindTag(string tag) => tag is "!resource" or "!role";

    /// <summary>Kinds that are roles as well as resources.</summary>
    public static bool IsRoleKind(string kind) => kind is "policy" or "user" or "host" or "group" or "layer" or "host_factory";
}
