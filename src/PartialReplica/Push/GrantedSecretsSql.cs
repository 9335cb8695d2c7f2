namespace PartialReplica.Push;

/// <summary>The grant queries the push path runs: the rule of SPEC F4 (granted_among) and its materialised table.</summary>
internal static class GrantedSecretsSql
{
    /// <summary>$1 follower role id, $2 text[] of variable ids → those granted to the follower.</summary>
    public const string GrantedAmong = """
        SELECT g.resource_id FROM partial_replica.granted_among($1, $2) g
        """;

    /// <summary>
    /// $1 follower role id: brings the materialised grant table (0008) up to date for the follower, so a
    /// full reconcile pages index scans and still sees grants made outside policy loads.
    /// </summary>
    public const string RefreshGranted = """
        SELECT count(*) FROM partial_replica.refresh_granted($1)
        """;

    /// <summary>
    /// $1 follower role id, $2 keyset start (exclusive), $3 limit → the page's granted ids in byte order,
    /// each with its kept versions (one row per version; a variable without a value has one row of nulls).
    /// One statement, so the page and its values come from one snapshot.
    /// </summary>
    public const string GrantedPageWithSecrets = """
        WITH page AS (
            SELECT g.resource_id FROM partial_replica.granted g
             WHERE g.follower_role_id = $1 AND g.resource_id > $2::text COLLATE "C"
             ORDER BY g.resource_id LIMIT $3)
        SELECT p.resource_id, s.version, s.value, s.expires_at
          FROM page p LEFT JOIN secrets s ON s.resource_id = p.resource_id
         ORDER BY p.resource_id COLLATE "C", s.version
        """;
}
