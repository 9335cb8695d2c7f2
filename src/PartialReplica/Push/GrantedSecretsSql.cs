namespace PartialReplica.Push;

/// <summary>
/// The grant queries the push path runs, over the materialised grant table (0008): every policy load
/// refreshes it inside its own transaction, so it is the rule of SPEC F4 as of the last committed load.
/// </summary>
/// <remarks>
/// Secrets are read by one primary-key probe per variable, fenced in a LATERAL subquery (<c>OFFSET 0</c>
/// keeps the planner from flattening it): otherwise, after a bulk load, the planner hashes the page and
/// scans the whole <c>secrets</c> table for each page (75 ms for 5,000 of 100,000 variables against 15 ms
/// probing). The page's ids carry the grant table's "C" collation; the probe names the column's own
/// collation so the primary key serves it.
/// </remarks>
internal static class GrantedSecretsSql
{
    /// <summary>
    /// $1 follower role id, $2 text[] of variable ids → one row per (distinct) id and kept version, with
    /// whether the follower is granted it; versions only when granted (otherwise one row of nulls).
    /// </summary>
    public const string StatesAmong = """
        SELECT i.id, s.version, s.value, s.expires_at, g.resource_id IS NOT NULL
          FROM (SELECT DISTINCT u.id FROM unnest($2::text[]) AS u(id)) i
          LEFT JOIN partial_replica.granted g ON g.follower_role_id = $1 AND g.resource_id = i.id
          LEFT JOIN LATERAL (
                SELECT s.version, s.value, s.expires_at FROM secrets s
                 WHERE g.resource_id IS NOT NULL AND s.resource_id = i.id OFFSET 0) s ON true
         ORDER BY i.id, s.version
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
          FROM page p
          LEFT JOIN LATERAL (
                SELECT s.version, s.value, s.expires_at FROM secrets s
                 WHERE s.resource_id = p.resource_id COLLATE "default" OFFSET 0) s ON true
         ORDER BY p.resource_id, s.version
        """;
}
