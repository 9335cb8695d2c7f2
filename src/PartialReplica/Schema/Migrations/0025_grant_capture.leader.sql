-- Grants changed by anyone are captured (SPEC F5, issue 21). Until now only this product's policy loader
-- refreshed the materialised grant table (0008/0018) and wrote 'grant'/'revoke' rows; a grant revoked with plain
-- SQL (Conjur's own policy loader, an admin with psql) was never pushed.
--
-- How:
--   * Statement-level AFTER triggers on role_memberships, permissions and resources record, per transaction,
--     what each statement changed of the grant rule's inputs (0005/0010): the member side of every membership
--     row added or removed, the role of every 'execute' permission on a variable and 'replicate' permission on a
--     webservice added or removed, and whether the set of variables changed (the reserved set 'full'). Rows
--     whose rule inputs an UPDATE leaves as they were (policy_id, admin_option, a resource's owner) touch
--     nothing: the rule does not read them.
--   * roles has no trigger: the rule never reads it, and deleting a role reaches the rule only through the
--     cascades of 0002 (its memberships, permissions and owned resources), whose deletes fire the triggers
--     here like any other. An owner change of a role record, as Conjur makes it, moves the role's ownership
--     membership, which is a membership like any other.
--   * The first such statement of a transaction also inserts the transaction's row in grants_dirty, whose
--     DEFERRABLE INITIALLY DEFERRED constraint trigger runs once at commit: a loader's transaction of a thousand
--     statements refreshes once.
--   * At commit the refresh takes the policy-load advisory lock, so refreshes (this one, a policy load's,
--     a requeue's) never interleave, and then finds the followers the recorded changes can affect: a follower F
--     whose reach (all_roles(F) and its sets' carriers, follower_carriers(F)) holds a recorded role, or
--     which receives the set 'full' when variables were added or removed. Only those followers are refreshed
--     (refresh_granted, 0018), and only their differences become outbox rows; every other follower gets
--     nothing. Why the reach after the change suffices: of every path that a change opened or closed between F
--     and a role, the first changed edge starts at a role that F still reaches, and that role was recorded.
--   * Snapshot: in READ COMMITTED every statement after the lock sees every refresh committed before this one
--     took the lock (an advisory lock is released after its commit became visible). Under REPEATABLE READ or
--     SERIALIZABLE the transaction's snapshot may predate a refresh committed meanwhile; every refresh updates
--     the one row of grant_refreshes, so such a transaction fails with a serialisation error (and is retried
--     by its client, as those levels require) instead of committing a stale grant table.
--   * The policy loader refreshes every follower itself before it commits (it reports the changes) and clears
--     its transaction's records there (PolicyStatements.RefreshGrants), so the commit-time refresh finds
--     nothing to do: one refresh per load.
--   * A direct-SQL grant change that waits at commit for a policy load holding the lock, while that load waits
--     for a row this transaction changed, is a deadlock that PostgreSQL detects and resolves by failing one of
--     the two; both hold the same lock for the same reason.
-- Unlogged: the rows live only inside their transaction (deleted by the refresh), so they need no WAL.

CREATE UNLOGGED TABLE partial_replica.grant_touches (
    tx      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    role_id text NOT NULL,
    PRIMARY KEY (tx, role_id)
);

CREATE UNLOGGED TABLE partial_replica.grants_dirty (
    tx        xid8 PRIMARY KEY DEFAULT pg_current_xact_id(),
    variables boolean NOT NULL DEFAULT false,  -- variables were added or removed: followers of 'full' are affected
    everyone  boolean NOT NULL DEFAULT false   -- a TRUNCATE: every follower is refreshed
);
REVOKE ALL ON partial_replica.grant_touches, partial_replica.grants_dirty FROM PUBLIC;

-- One row, updated by every refresh (the REPEATABLE READ guard above).
CREATE TABLE partial_replica.grant_refreshes (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refreshed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO partial_replica.grant_refreshes DEFAULT VALUES;

-- Records the roles a statement touched and marks the transaction dirty. ON CONFLICT DO NOTHING on the dirty
-- row: only a transaction's first grant statement queues the commit-time trigger.
CREATE FUNCTION partial_replica.touch_grants(p_roles text[], p_variables boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_roles) > 0 THEN
        INSERT INTO partial_replica.grant_touches (role_id) SELECT DISTINCT unnest(p_roles) ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(p_roles) > 0 OR p_variables THEN
        INSERT INTO partial_replica.grants_dirty (variables) VALUES (p_variables)
        ON CONFLICT (tx) DO UPDATE SET variables = true WHERE p_variables AND NOT grants_dirty.variables;
    END IF;
END
$$;

-- The rule reads a membership's (role_id, member_id) only, and follows it from member to role: the member is
-- what a follower must reach for the row to matter. An UPDATE touches the rows whose pair it changed.
CREATE FUNCTION partial_replica.capture_membership_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.member_id) INTO touched
          FROM ((SELECT o.role_id, o.member_id FROM old_rows o EXCEPT SELECT n.role_id, n.member_id FROM new_rows n)
                UNION
                (SELECT n.role_id, n.member_id FROM new_rows n EXCEPT SELECT o.role_id, o.member_id FROM old_rows o)) x;
    ELSE
        SELECT array_agg(DISTINCT c.member_id) INTO touched FROM changed_rows c;
    END IF;
    PERFORM partial_replica.touch_grants(coalesce(touched, '{}'), false);
    RETURN NULL;
END
$$;

-- Only 'execute' on a variable and 'replicate' on a webservice are read by the rule.
CREATE FUNCTION partial_replica.capture_permission_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.role_id) INTO touched
          FROM ((SELECT o.privilege, o.resource_id, o.role_id FROM old_rows o
                 EXCEPT SELECT n.privilege, n.resource_id, n.role_id FROM new_rows n)
                UNION
                (SELECT n.privilege, n.resource_id, n.role_id FROM new_rows n
                 EXCEPT SELECT o.privilege, o.resource_id, o.role_id FROM old_rows o)) x
         WHERE (x.privilege = 'execute' AND split_part(x.resource_id, ':', 2) = 'variable')
            OR (x.privilege = 'replicate' AND split_part(x.resource_id, ':', 2) = 'webservice');
    ELSE
        SELECT array_agg(DISTINCT c.role_id) INTO touched FROM changed_rows c
         WHERE (c.privilege = 'execute' AND split_part(c.resource_id, ':', 2) = 'variable')
            OR (c.privilege = 'replicate' AND split_part(c.resource_id, ':', 2) = 'webservice');
    END IF;
    PERFORM partial_replica.touch_grants(coalesce(touched, '{}'), false);
    RETURN NULL;
END
$$;

-- The rule reads resources only for the set 'full' (every variable). A deleted variable's permissions go by
-- cascade and are recorded by the permissions trigger.
CREATE FUNCTION partial_replica.capture_variable_set_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        changed := EXISTS (SELECT o.resource_id FROM old_rows o WHERE split_part(o.resource_id, ':', 2) = 'variable'
                           EXCEPT SELECT n.resource_id FROM new_rows n)
                OR EXISTS (SELECT n.resource_id FROM new_rows n WHERE split_part(n.resource_id, ':', 2) = 'variable'
                           EXCEPT SELECT o.resource_id FROM old_rows o);
    ELSE
        changed := EXISTS (SELECT 1 FROM changed_rows c WHERE split_part(c.resource_id, ':', 2) = 'variable');
    END IF;
    IF changed THEN
        PERFORM partial_replica.touch_grants('{}', true);
    END IF;
    RETURN NULL;
END
$$;

-- A TRUNCATE has no transition table: every follower is refreshed.
CREATE FUNCTION partial_replica.capture_grant_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.grants_dirty (everyone) VALUES (true)
    ON CONFLICT (tx) DO UPDATE SET everyone = true;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON role_memberships
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON role_memberships
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON role_memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_membership_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON role_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON permissions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON permissions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON permissions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_permission_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

CREATE TRIGGER partial_replica_grants_insert AFTER INSERT ON resources
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_delete AFTER DELETE ON resources
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_update AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_variable_set_changes();
CREATE TRIGGER partial_replica_grants_truncate AFTER TRUNCATE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_grant_truncate();

-- The commit-time refresh of the followers this transaction's grant statements can affect (see the top).
-- Returns how many outbox rows it wrote. 0x5056504f4c49 is PolicyLoader.PolicyLockKey.
CREATE FUNCTION partial_replica.refresh_touched_grants() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    affected text[];
    follower_role_id text;
    written bigint := 0;
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(x'5056504f4c49'::bigint);
    UPDATE partial_replica.grant_refreshes SET refreshed_at = clock_timestamp();

    WITH dirty AS (
        DELETE FROM partial_replica.grants_dirty d WHERE d.tx = pg_current_xact_id() RETURNING d.variables, d.everyone),
    touched AS MATERIALIZED (
        DELETE FROM partial_replica.grant_touches t WHERE t.tx = pg_current_xact_id() RETURNING t.role_id)
    SELECT array_agg(f.role_id ORDER BY f.name) INTO affected
      FROM partial_replica.followers f
     WHERE (SELECT bool_or(d.everyone) FROM dirty d)
        OR ((SELECT bool_or(d.variables) FROM dirty d) AND partial_replica.follower_has_full(f.role_id))
        OR EXISTS (SELECT 1 FROM touched t
                    WHERE t.role_id IN (SELECT r.role_id FROM partial_replica.all_roles(f.role_id) r
                                        UNION ALL
                                        SELECT c.role_id FROM partial_replica.follower_carriers(f.role_id) c));

    FOREACH follower_role_id IN ARRAY coalesce(affected, '{}') LOOP
        INSERT INTO partial_replica.changes (kind, resource_id, follower)
        SELECT d.change, d.resource_id, d.follower
          FROM partial_replica.refresh_granted(follower_role_id) d
         ORDER BY d.resource_id;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;

    IF written > 0 THEN
        -- Grant changes are rare: wake-up always, as for deleted variables (0021). Empty payload, as in 0004.
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN written;
END
$$;

CREATE FUNCTION partial_replica.refresh_touched_grants_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The row is gone when a policy load refreshed every follower after the statements that inserted it.
    IF EXISTS (SELECT 1 FROM partial_replica.grants_dirty d WHERE d.tx = NEW.tx) THEN
        PERFORM partial_replica.refresh_touched_grants();
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER partial_replica_grants_refresh AFTER INSERT ON partial_replica.grants_dirty
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION partial_replica.refresh_touched_grants_at_commit();
