-- The materialised grant boundary (SPEC F4, P5). partial_replica.granted_variables is the definition;
-- this table holds its answer for every registered follower so that counts and pages are index scans
-- (a follower granted 100,000 variables is counted in milliseconds). It is refreshed by every policy
-- load inside the load's transaction, and for a follower when it registers; refresh_granted returns
-- the difference, which the policy loader turns into 'grant'/'revoke' outbox rows.

CREATE TABLE partial_replica.granted (
    -- No foreign key to followers: a per-row check on 100,000 inserted rows costs more than the rest of
    -- the refresh; the followers delete trigger below removes a follower's rows instead.
    follower_role_id text NOT NULL,
    -- Byte order: pages are stable whatever the database's default collation.
    resource_id      text COLLATE "C" NOT NULL,
    PRIMARY KEY (follower_role_id, resource_id)
);

-- The variables replica set p_set_id (a webservice id) carries, by the same rule as granted_variables.
CREATE OR REPLACE FUNCTION partial_replica.set_variables(p_set_id text)
RETURNS TABLE (resource_id text) LANGUAGE sql STABLE AS $$
    WITH account AS (SELECT split_part(p_set_id, ':', 1) AS name)
    SELECT res.resource_id FROM resources res, account
     WHERE p_set_id = account.name || ':webservice:conjur/replication-sets/full'
       AND starts_with(res.resource_id, account.name || ':variable:')
    UNION
    SELECT p.resource_id
      FROM account,
           partial_replica.all_roles(account.name || ':group:' || split_part(p_set_id, ':', 3) || '/replicated-data') r
      JOIN permissions p ON p.role_id = r.role_id AND p.privilege = 'execute'
     WHERE starts_with(p.resource_id, account.name || ':variable:')
$$;

-- How many variables each follower is granted, kept by refresh_granted: a count is one row read,
-- whatever the size of the set (P5), and needs no vacuumed visibility map.
CREATE TABLE partial_replica.granted_counts (
    follower_role_id text PRIMARY KEY,
    variables        bigint NOT NULL
);

-- Brings partial_replica.granted to granted_variables for one follower (or all when null) and returns
-- what changed: change = 'grant' for a variable the follower gained, 'revoke' for one it lost.
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

    WITH added AS (
        INSERT INTO partial_replica.granted (follower_role_id, resource_id)
        SELECT w.follower_role_id, w.resource_id FROM pr_wanted w
         WHERE NOT EXISTS (SELECT 1 FROM partial_replica.granted g
                            WHERE g.follower_role_id = w.follower_role_id AND g.resource_id = w.resource_id)
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

-- A follower registering starts with its full granted set; no outbox rows: its first delivery is a
-- full replicate (pull), not a stream of grants.
CREATE OR REPLACE FUNCTION partial_replica.followers_refresh_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM partial_replica.refresh_granted(NEW.role_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_followers_granted AFTER INSERT ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.followers_refresh_granted();

CREATE OR REPLACE FUNCTION partial_replica.followers_forget_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM partial_replica.granted WHERE follower_role_id = OLD.role_id;
    DELETE FROM partial_replica.granted_counts WHERE follower_role_id = OLD.role_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER partial_replica_followers_forget_granted AFTER DELETE ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.followers_forget_granted();
