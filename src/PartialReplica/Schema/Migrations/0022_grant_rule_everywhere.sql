-- The agent does not trust a push blindly (SPEC S6): before a pushed variable becomes visible, the agent asks
-- its own follower's replicated policy tables the grant rule, once its subscription has replayed at least up
-- to the leader position the batch is stamped with. So the rule is defined here, on both sides, with one text:
-- the leader's definitions of 0005/0010 are replaced by these same statements (granted_among, dropped on the
-- leader by 0011 when the push path moved to the materialised grant table, comes back as the agent's check).
-- SchemaTests compare the definitions on a leader and a follower.

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

-- Which of these variables the follower may hold: a few index probes per variable, however many it holds.
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

-- The leader's WAL position (as the stamps count it: bytes since 0/0) when the beat was written. A follower
-- that has replayed a beat has replayed every leader commit before it, so a batch stamped at most this is one
-- whose grants the follower's own tables already show. Every side has the column: a subscriber whose table
-- lacks a published column stops applying.
ALTER TABLE partial_replica.heartbeat ADD COLUMN IF NOT EXISTS leader_lsn bigint NOT NULL DEFAULT 0;

-- Batches an agent refused (written by agents; a leader's stays empty). Ids and counts only, never values.
CREATE TABLE IF NOT EXISTS partial_replica.refusals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refused_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    batch_id    text NOT NULL,
    gateway     text NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL
);
