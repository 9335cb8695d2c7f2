using PartialReplica.Schema;

namespace PartialReplica.Grants;

/// <summary>
/// The grant queries the push path runs, over the materialised grant table (leader baseline): every policy load
/// refreshes it inside its own transaction, so it is the rule of SPEC F4 as of the last committed load.
/// </summary>
/// <remarks>
/// Secrets are read by one primary-key probe per variable, fenced in a LATERAL subquery (<c>OFFSET 0</c>
/// keeps the planner from flattening it): otherwise, after a bulk load, the planner hashes the page and
/// scans the whole <c>secrets</c> table for each page, several times slower than probing. The page's ids carry
/// the grant table's "C" collation; the probe names the column's own
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

    /// <summary>
    /// <see cref="GrantedPageWithSecrets"/> for a follower granted most secrets, on a leader whose <c>secrets</c> ids
    /// compare by bytes as the grant table's do (<see cref="PagesByRange"/>): the page's secrets are read by one range
    /// scan between its first and last id, hashed against the page, instead of one primary-key probe per variable:
    /// for a dense page one scan is cheaper than thousands of probes. The range also holds the secrets of variables
    /// not granted between the page's ones, read and dropped, which is why sparse followers keep the probes.
    /// </summary>
    public const string GrantedPageWithSecretsByRange = """
        WITH page AS MATERIALIZED (
            SELECT g.resource_id FROM partial_replica.granted g
             WHERE g.follower_role_id = $1 AND g.resource_id > $2::text COLLATE "C"
             ORDER BY g.resource_id LIMIT $3)
        SELECT p.resource_id, s.version, s.value, s.expires_at
          FROM page p
          LEFT JOIN secrets s ON s.resource_id = p.resource_id COLLATE "default"
               AND s.resource_id > $2::text COLLATE "default"
               AND s.resource_id <= (SELECT max(l.resource_id) FROM page l) COLLATE "default"
         ORDER BY p.resource_id, s.version
        """;

    /// <summary>
    /// $1 follower role id → whether a reconcile reads its pages by range (<see cref="GrantedPageWithSecretsByRange"/>):
    /// only when <c>secrets.resource_id</c> orders by bytes (collation C or POSIX, the column's own or the database's;
    /// then a range of ids means the same on both tables), and the follower is granted at least half as many
    /// variables as <c>secrets</c> has rows (by the planner's statistics; unknown counts as no). The pages' ranges are
    /// disjoint, so a whole reconcile then reads at most every secret once: at most twice the rows it sends.
    /// </summary>
    public static readonly string PagesByRange = $"""
        SELECT ({ByteOrderSql.ResourceIdsOrderByBytes("'public.secrets'::regclass")})
           AND (SELECT t.reltuples >= 0 AND 2 * coalesce((SELECT n.variables FROM partial_replica.granted_counts n
                                                           WHERE n.follower_role_id = $1), 0) >= t.reltuples
                  FROM pg_class t WHERE t.oid = 'public.secrets'::regclass)
        """;
}
