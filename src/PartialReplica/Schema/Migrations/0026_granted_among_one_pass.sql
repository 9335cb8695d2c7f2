-- granted_among in one pass (common: leader and follower hold the same text; the agent checks every batch with it). 0022's form
-- put both ways a variable is granted into one OR of correlated subqueries, which the planner evaluated twice per
-- variable: 10,000 ids took 73-84 ms on the agent, once per reconcile page (bench P1). Now the 'full' set is a
-- one-time condition and the permissions side a plain join: 52 ms for the same ids.
CREATE OR REPLACE FUNCTION partial_replica.granted_among(p_follower_role_id text, p_ids text[])
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    -- MATERIALIZED: each computed once per call, not once per probed variable.
    WITH carriers AS MATERIALIZED (SELECT c.role_id FROM partial_replica.follower_carriers(p_follower_role_id) c),
    ids AS MATERIALIZED (SELECT DISTINCT i.id FROM unnest(p_ids) AS i(id)
                          WHERE starts_with(i.id, split_part(p_follower_role_id, ':', 1) || ':variable:'))
    SELECT ids.id FROM ids
     WHERE partial_replica.follower_has_full(p_follower_role_id)
       AND EXISTS (SELECT 1 FROM resources res WHERE res.resource_id = ids.id)
    UNION
    SELECT p.resource_id FROM ids
      JOIN permissions p ON p.resource_id = ids.id AND p.privilege = 'execute'
      JOIN carriers c ON c.role_id = p.role_id
$$;
