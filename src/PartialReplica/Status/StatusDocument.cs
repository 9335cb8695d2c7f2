using System.Text.Json;
using PartialReplica.Grants;
using PartialReplica.Leader.Gateways;

namespace PartialReplica.Status;

/// <summary>
/// The status document of SPEC F9, <c>{"followers":[{"name","replicaSets","granted","delivered","pending","lagMs","subscription","lastError","servedBy",...}],
/// "gateways":[{"id","url","startedAt","leaseAgeMs","leaseLeftMs","followers"}]}</c>, printed by <c>status --json</c> and
/// served by the gateway's <c>GET /status</c>, so both say the same thing. <c>gateways</c> lists the live gateways.
/// </summary>
public sealed record StatusDocument(IReadOnlyList<FollowerStatusRow> Followers, IReadOnlyList<GatewayStatusRow> Gateways)
{
    /// <summary>camelCase names, nulls kept (a follower whose agent did not answer has <c>"delivered":null</c>).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary><c>{"replicaSets":[{"name","setId","followers","variables"}]}</c>: the replica sets with their counts, for the dashboard.</summary>
public sealed record ReplicaSetsDocument(IReadOnlyList<ReplicaSetSummary> ReplicaSets);
