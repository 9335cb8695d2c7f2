-- The grant rule of 0005, factored so that it is written once and asked two ways:
--   granted_variables(follower)      the follower's whole granted set (status, reconcile, refresh);
--   granted_among(follower, ids[])   which of these variables it may hold (the push path, per batch),
--                                    evaluated per variable through the permissions index, so a batch
--                                    costs a few index probes however many variables the follower has.
-- GrantBoundaryTests and the policy property test keep both equal to the independent model.

-- Whether the follower receives the reserved set 'full' (every variable of its account).
CREATE OR REPLACE FUNCTION partial_replica.follower_has_full(p_follower_role_id text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM partial_replica.follower_replica_sets(p_follower_role_id) s
         WHERE s.set_id = split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/full')
$$;

-- The roles whose 'execute' permissions reach the follower: each of its sets' replicated-data group and
-- every role that group is (transitively) a member of.
CREATE OR REPLACE FUNCTION partial_replica.follower_carriers(p_follower_role_id text)
RETURNS TABLE (role_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT r.role_id
      FROM partial_replica.follower_replica_sets(p_follower_role_id) s,
           partial_replica.all_roles(split_part(p_follower_role_id, ':', 1) || ':group:'
                                     || split_part(s.set_id, ':', 3) || '/replicated-data') r
$$;

CREATE OR REPLACE FUNCTION partial_replica.granted_variables(p_follower_role_id text)
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    SELECT res.resource_id FROM resources res
     WHERE partial_replica.follower_has_full(p_follower_role_id)
       AND starts_with(res.resource_id, split_part(p_follower_role_id, ':', 1) || ':variable:')
    UNION
    SELECT p.resource_id
      FROM partial_replica.follower_carriers(p_follower_role_id) c
      JOIN permissions p ON p.role_id = c.role_id AND p.privilege = 'execute'
     WHERE starts_with(p.resource_id, split_part(p_follower_role_id, ':', 1) || ':variable:')
$$;

CREATE OR REPLACE FUNCTION partial_replica.granted_among(p_follower_role_id text, p_ids text[])
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    WITH full_set AS MATERIALIZED (SELECT partial_replica.follower_has_full(p_follower_role_id) AS yes),
    -- MATERIALIZED: computed once per call, not once per probed variable.
    carriers AS MATERIALIZED (SELECT c.role_id FROM partial_replica.follower_carriers(p_follower_role_id) c),
    ids AS (SELECT DISTINCT i.id FROM unnest(p_ids) AS i(id))
    SELECT ids.id FROM ids, full_set
     WHERE starts_with(ids.id, split_part(p_follower_role_id, ':', 1) || ':variable:')
       AND ((full_set.yes AND EXISTS (SELECT 1 FROM resources res WHERE res.resource_id = ids.id))
            OR EXISTS (SELECT 1 FROM permissions p JOIN carriers c ON c.role_id = p.role_id
                        WHERE p.resource_id = ids.id AND p.privilege = 'execute'))
$$;
