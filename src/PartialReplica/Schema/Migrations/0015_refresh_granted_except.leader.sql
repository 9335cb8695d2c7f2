-- Registering a follower, or loading policy, after the grant table was analysed while (nearly) empty
-- (VACUUM ANALYZE by an operator, or 0012 after the last follower left) planned refresh_granted's
-- "what is new" anti-join as a sequential scan of partial_replica.granted per wanted row: the scan also
-- meets every row the same statement has inserted, so a 100,000-variable registration took minutes
-- (found by `bench` once it analysed the leader before P1). The new rows are now found with EXCEPT, which
-- reads each side once. The rest of the function is unchanged from 0008.

CREATE OR REPLACE FUNCTION partial_replica.refresh_granted(p_follower_role_id text DEFAULT NULL)
RETURNS TABLE (follower text, follower_role_id text, resource_id text, change text)
LANGUAGE plpgsql AS $$
-- The output columns share names with table columns; in statements here, names mean columns.
#variable_conflict use_column
BEGIN
    -- Callers that refresh every follower hold the policy-load advisory lock, so two such refreshes never
    -- interleave; a follower's own first refresh (trigger below) touches only its uncommitted rows. Plain
    -- anti-joins therefore suffice (ON CONFLICT's speculative insertion costs more on 100,000 rows).
    CREATE TEMP TABLE IF NOT EXISTS pr_wanted (follower_role_id text, resource_id text COLLATE "C") ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS pr_granted_diff (follower_role_id text, resource_id text, change text) ON COMMIT DROP;
    TRUNCATE pr_wanted, pr_granted_diff;
    INSERT INTO pr_wanted
    SELECT f.role_id, g.resource_id
      FROM partial_replica.followers f,
           LATERAL partial_replica.granted_variables(f.role_id) g
     WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id;
    ANALYZE pr_wanted;

    -- EXCEPT reads the grant table once, whatever the plan: as an anti-join, a grant table analysed while
    -- empty was planned as a sequential scan per wanted row, over the rows this statement inserts (invisible
    -- to it, yet each checked), quadratic: a 100,000-variable follower's registration ran for minutes.
    WITH added AS (
        INSERT INTO partial_replica.granted (follower_role_id, resource_id)
        SELECT w.follower_role_id, w.resource_id FROM pr_wanted w
        EXCEPT
        SELECT g.follower_role_id, g.resource_id FROM partial_replica.granted g
         WHERE p_follower_role_id IS NULL OR g.follower_role_id = p_follower_role_id
        RETURNING granted.follower_role_id, granted.resource_id),
    removed AS (
        DELETE FROM partial_replica.granted g
         WHERE (p_follower_role_id IS NULL OR g.follower_role_id = p_follower_role_id)
           AND NOT EXISTS (SELECT 1 FROM pr_wanted w
                            WHERE w.follower_role_id = g.follower_role_id AND w.resource_id = g.resource_id)
        RETURNING g.follower_role_id, g.resource_id)
    INSERT INTO pr_granted_diff
    SELECT a.follower_role_id, a.resource_id, 'grant' FROM added a
    UNION ALL
    SELECT r.follower_role_id, r.resource_id, 'revoke' FROM removed r;

    INSERT INTO partial_replica.granted_counts AS c (follower_role_id, variables)
    SELECT f.role_id, count(w.resource_id)
      FROM partial_replica.followers f LEFT JOIN pr_wanted w ON w.follower_role_id = f.role_id
     WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id
     GROUP BY f.role_id
    ON CONFLICT (follower_role_id) DO UPDATE SET variables = EXCLUDED.variables
        WHERE c.variables <> EXCLUDED.variables;

    RETURN QUERY
    SELECT f.name, d.follower_role_id, d.resource_id, d.change
      FROM pr_granted_diff d JOIN partial_replica.followers f ON f.role_id = d.follower_role_id;
    TRUNCATE pr_wanted, pr_granted_diff;
END
$$;
