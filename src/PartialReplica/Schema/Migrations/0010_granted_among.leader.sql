-- The push path's grant check: which of these variables may the follower hold? Same rule as
-- granted_variables (0005), evaluated per variable through the permissions index instead of computing
-- the follower's whole granted set, so a batch of a few ids costs a few index probes however many
-- variables the follower is granted. GrantBoundaryTests keeps it equal to granted_variables.
CREATE OR REPLACE FUNCTION partial_replica.granted_among(p_follower_role_id text, p_ids text[])
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    WITH account AS (SELECT split_part(p_follower_role_id, ':', 1) AS name),
    sets AS (SELECT s.set_id FROM partial_replica.follower_replica_sets(p_follower_role_id) s),
    is_full AS (
        SELECT EXISTS (SELECT 1 FROM sets, account WHERE sets.set_id = account.name || ':webservice:conjur/replication-sets/full') AS yes
    ),
    carriers AS (
        SELECT DISTINCT r.role_id
          FROM sets, account,
               partial_replica.all_roles(account.name || ':group:' || split_part(sets.set_id, ':', 3) || '/replicated-data') r
    ),
    ids AS (SELECT DISTINCT i.id FROM unnest(p_ids) AS i(id))
    SELECT ids.id FROM ids, account, is_full
     WHERE starts_with(ids.id, account.name || ':variable:')
       AND ((is_full.yes AND EXISTS (SELECT 1 FROM resources res WHERE res.resource_id = ids.id))
            OR EXISTS (SELECT 1 FROM permissions p JOIN carriers c ON c.role_id = p.role_id
                        WHERE p.resource_id = ids.id AND p.privilege = 'execute'))
$$;
