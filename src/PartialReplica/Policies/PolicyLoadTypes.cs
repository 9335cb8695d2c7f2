using System.Text.Json.Serialization;
using PartialReplica.Conjur;

namespace PartialReplica.Policies;

/// <summary>Conjur's three ways of loading a policy into a branch.</summary>
public enum PolicyMode
{
    /// <summary>POST: adds records and statements; existing rows are left as they are; no deletions.</summary>
    Load,

    /// <summary>PUT: the branch becomes what the file says; rows the branch's loads wrote that the file omits are deleted.</summary>
    Replace,

    /// <summary>PATCH: adds and updates; deletes only through explicit <c>!delete</c>, <c>!revoke</c> and <c>!deny</c>.</summary>
    Update,
}

/// <summary>What to load, where, and as whom.</summary>
public sealed record PolicyLoadRequest
{
    public required string PolicyText { get; init; }

    /// <summary>The name errors cite (<c>file:line:column</c>).</summary>
    public string FileName { get; init; } = "policy.yml";

    public string Account { get; init; } = "default";

    /// <summary>The branch: <c>root</c> or a policy identifier such as <c>conjur/replication-sets/a</c>.</summary>
    public string Branch { get; init; } = "root";

    public PolicyMode Mode { get; init; } = PolicyMode.Load;

    /// <summary>The role recorded in <c>policy_versions.role_id</c>; the account's admin when null.</summary>
    public string? LoaderRoleId { get; init; }

    /// <summary>Compute everything, report it, and roll back.</summary>
    public bool DryRun { get; init; }

    /// <summary>
    /// The data key (<c>CONJUR_DATA_KEY</c>) that encrypts the API keys of the users and hosts the load creates. Needed
    /// only when the policy creates some (a dry run needs none); its absence then fails the load.
    /// </summary>
    public Slosilo? DataKey { get; init; }
}

/// <summary>A user or host the load created, with its API key (null in a dry run: nothing was kept).</summary>
public sealed record CreatedRole([property: JsonPropertyName("id")] string Id, [property: JsonPropertyName("api_key")] string? ApiKey);

/// <summary>How one follower's granted set changed.</summary>
public sealed record FollowerGrantChange(string Follower, string FollowerRoleId, IReadOnlyList<string> Added, IReadOnlyList<string> Removed);

/// <summary>The result of a load; serialises to Conjur's <c>{"created_roles":{...},"version":N}</c>.</summary>
public sealed record PolicyLoadResult(
    [property: JsonPropertyName("created_roles")] IReadOnlyDictionary<string, CreatedRole> CreatedRoles,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonIgnore] bool DryRun,
    [property: JsonIgnore] IReadOnlyList<FollowerGrantChange> GrantChanges);
