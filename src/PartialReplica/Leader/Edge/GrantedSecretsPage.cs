using PartialReplica.Grants;

namespace PartialReplica.Leader.Edge;

/// <summary>A page of the full pull and the position to start delta pulls from (null: the caller has no deltas).</summary>
public sealed record GrantedSecretsPage(IReadOnlyList<GrantedSecret> Secrets, EdgePosition? Position);
