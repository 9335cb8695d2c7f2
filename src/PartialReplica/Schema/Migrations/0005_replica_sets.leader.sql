-- Grant resolution (SPEC F4). The one definition of "which variables may follower F hold"; every
-- other place (edge API, dispatch, reconcile, status) asks these functions.
--
-- Replica set N is the branch conjur/replication-sets/N: the webservice <acct>:webservice:conjur/replication-sets/N
-- (the set), the group .../N/replicated-data (what it carries), the layer .../N/followers (who receives it).
-- F receives V iff for some N, F can 'replicate' the set's webservice and replicated-data can 'execute' V,
-- both through role memberships, transitively. The set 'full' carries every variable of the account.

-- Conjur's all_roles: the role itself and every role it is (transitively) a member of.
CREATE OR REPLACE FUNCTION partial_replica.all_roles(p_role_id text)
RETURNS TABLE (role_id text) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE closure(role_id) AS (
        SELECT p_role_id
        UNION
        SELECT rm.role_id FROM role_memberships rm JOIN closure c ON rm.member_id = c.role_id
    )
    SELECT closure.role_id FROM closure
$$;

-- The replica sets (webservice ids) a follower host may replicate.
CREATE OR REPLACE FUNCTION partial_replica.follower_replica_sets(p_follower_role_id text)
RETURNS TABLE (set_id text) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT p.resource_id
      FROM partial_replica.all_roles(p_follower_role_id) r
      JOIN permissions p ON p.role_id = r.role_id AND p.privilege = 'replicate'
     WHERE starts_with(p.resource_id, split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/')
       AND position('/' IN substr(p.resource_id,
             length(split_part(p_follower_role_id, ':', 1) || ':webservice:conjur/replication-sets/') + 1)) = 0
$$;

-- The variables a follower host may hold (unordered, distinct).
CREATE OR REPLACE FUNCTION partial_replica.granted_variables(p_follower_role_id text)
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
    )
    SELECT res.resource_id FROM resources res, account, is_full
     WHERE is_full.yes AND starts_with(res.resource_id, account.name || ':variable:')
    UNION
    SELECT p.resource_id FROM carriers c
      JOIN permissions p ON p.role_id = c.role_id AND p.privilege = 'execute'
      CROSS JOIN account
     WHERE starts_with(p.resource_id, account.name || ':variable:')
$$;
