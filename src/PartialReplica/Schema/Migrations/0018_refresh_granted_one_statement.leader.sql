-- The grant refresh in one statement (P5, measured in `bench`). A policy load refreshes every follower's
-- granted set; with a follower granted 130,000 variables, 0015's refresh took 1.0–1.4 s even when nothing
-- changed: 0.55 s to write the wanted set into a temporary table, 0.3 s for EXCEPT sorting both sides on
-- disk (work_mem 4 MB), 0.13 s for the anti-join of removals, 0.05 s to analyse the temporary table.
-- Now the wanted set is read once, in memory, and set against the held one by a FULL JOIN:
--   * A FULL JOIN is planned as a hash or merge join only, never as a nested loop, so stale statistics on
--     either side cannot make it quadratic (0015's reason for EXCEPT).
--   * work_mem is raised for this function alone, so the join and the wanted set stay in memory.
--   * Adding, removing and counting are data-modifying CTEs of the same statement: each runs once and to
--     completion, all against the snapshot the diff was read in.
-- Callers that refresh every follower hold the policy-load advisory lock, so two such refreshes never
-- interleave; a follower's own first refresh (0008's trigger) touches only its uncommitted rows.

CREATE OR REPLACE FUNCTION partial_replica.refresh_granted(p_follower_role_id text DEFAULT NULL)
RETURNS TABLE (follower text, follower_role_id text, resource_id text, change text)
LANGUAGE sql VOLATILE
SET work_mem = '64MB'
AS $$
    WITH wanted AS MATERIALIZED (
        SELECT f.role_id AS follower_role_id, g.resource_id COLLATE "C" AS resource_id
          FROM partial_replica.followers f,
               LATERAL partial_replica.granted_variables(f.role_id) g
         WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id),
    held AS (
        SELECT g.follower_role_id, g.resource_id
          FROM partial_replica.granted g
         WHERE p_follower_role_id IS NULL OR g.follower_role_id = p_follower_role_id),
    diff AS MATERIALIZED (
        SELECT coalesce(w.follower_role_id, h.follower_role_id) AS follower_role_id,
               coalesce(w.resource_id, h.resource_id) AS resource_id,
               CASE WHEN h.resource_id IS NULL THEN 'grant' ELSE 'revoke' END AS change
          FROM wanted w
          FULL JOIN held h ON h.follower_role_id = w.follower_role_id AND h.resource_id = w.resource_id
         WHERE w.resource_id IS NULL OR h.resource_id IS NULL),
    added AS (
        INSERT INTO partial_replica.granted (follower_role_id, resource_id)
        SELECT d.follower_role_id, d.resource_id FROM diff d WHERE d.change = 'grant'),
    removed AS (
        DELETE FROM partial_replica.granted g
         USING diff d
         WHERE d.change = 'revoke' AND g.follower_role_id = d.follower_role_id AND g.resource_id = d.resource_id),
    counted AS (
        INSERT INTO partial_replica.granted_counts AS c (follower_role_id, variables)
        SELECT f.role_id, count(w.resource_id)
          FROM partial_replica.followers f
          LEFT JOIN wanted w ON w.follower_role_id = f.role_id
         WHERE p_follower_role_id IS NULL OR f.role_id = p_follower_role_id
         GROUP BY f.role_id
        ON CONFLICT (follower_role_id) DO UPDATE SET variables = EXCLUDED.variables
            WHERE c.variables <> EXCLUDED.variables)
    SELECT f.name, d.follower_role_id, d.resource_id, d.change
      FROM diff d
      JOIN partial_replica.followers f ON f.role_id = d.follower_role_id
$$;
