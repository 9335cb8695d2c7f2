using System.Text.Json;

namespace PartialReplica.Grants;

/// <summary>
/// Why a follower does or does not receive a variable (SPEC F12), as <c>explain --json</c> prints it and the
/// gateway's <c>GET /followers/{name}/explain</c> serves it:
/// <c>{"follower","variable","granted","replicaSets":[{"name","granted","chain","missing"}]}</c>.
/// Ids and privileges only, never a secret value.
/// </summary>
/// <param name="Follower">The follower's host role id (<c>default:host:conjur/followers/east-1</c>).</param>
/// <param name="Variable">The variable's resource id.</param>
/// <param name="Granted">Whether the grant rule gives the variable to the follower.</param>
/// <param name="ReplicaSets">Every replica set of the follower's account, in id order.</param>
public sealed record GrantExplanation(string Follower, string Variable, bool Granted, IReadOnlyList<ReplicaSetExplanation> ReplicaSets)
{
    /// <summary>camelCase names, nulls kept (<c>"missing":null</c> on a set that grants).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>
/// One replica set's part: when it grants, the chain of links that make it grant; when not, the links that
/// hold (if any) and the nearest one missing.
/// </summary>
/// <param name="Name">N of <c>conjur/replication-sets/N</c>.</param>
/// <param name="Granted">Whether this set gives the variable to the follower.</param>
/// <param name="Chain">Role memberships and permissions, in order from the follower to the variable.</param>
/// <param name="Missing">The nearest missing link, or null when the set grants.</param>
public sealed record ReplicaSetExplanation(string Name, bool Granted, IReadOnlyList<string> Chain, string? Missing);

/// <summary>What <see cref="GrantExplainer"/> answers: an explanation, or which of the two ids is unknown.</summary>
public abstract record ExplainResult
{
    private ExplainResult() { }

    /// <summary>Both ids are known: the explanation.</summary>
    public sealed record Explained(GrantExplanation Explanation) : ExplainResult;

    /// <summary>No follower of that name is registered.</summary>
    public sealed record UnknownFollower(string Name) : ExplainResult
    {
        public string Message => $"No follower named '{Name}' is registered.";
    }

    /// <summary>The leader has no variable of that id.</summary>
    public sealed record UnknownVariable(string Id) : ExplainResult
    {
        public string Message => $"No variable '{Id}' exists on the leader.";
    }
}
