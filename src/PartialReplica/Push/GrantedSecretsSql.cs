namespace PartialReplica.Push;

/// <summary>The grant queries the push path runs; all go through partial_replica.granted_variables (SPEC F4).</summary>
internal static class GrantedSecretsSql
{
    /// <summary>$1 follower role id, $2 text[] of variable ids → those granted to the follower.</summary>
    public const string GrantedAmong = """
        SELECT g.resource_id FROM partial_replica.granted_variables($1) g WHERE g.resource_id = ANY($2)
        """;

    /// <summary>$1 follower role id, $2 keyset start (exclusive), $3 limit → granted ids in order.</summary>
    public const string GrantedPage = """
        SELECT g.resource_id FROM partial_replica.granted_variables($1) g
         WHERE g.resource_id > $2 ORDER BY g.resource_id LIMIT $3
        """;
}
