-- Conjur's pruning to 20 kept versions no longer writes a change row of its own (P4, measured in `bench` with
-- pg_stat_statements). Once a variable holds 20 versions, every write of it also prunes one, and the pruning
-- DELETE fired the capture trigger a second time: a second outbox row per commit, read by every walsender and
-- by the gateway. In P4's later rounds the outbox took two inserts per commit, and the pruning DELETE cost
-- 94–190 µs a commit with capture against 12–68 µs without.
-- The row is redundant: the DELETE runs inside the insert of a version 20 newer of the same variable, in
-- the same transaction, and that insert's capture writes an 'upsert' row. The gateway then pushes the
-- variable's whole current state (its kept versions), and the agent removes every version that state no
-- longer holds. So a deleted version is not captured when this same transaction has inserted a version of
-- the same variable at least 20 newer, which is exactly what pruning removes. The test is on the data, not on
-- a setting a session could set: every other DELETE (a version deleted by hand, a variable deleted with its
-- secrets by cascade, or a prune inside a savepoint, whose rows carry the subtransaction's id) is captured
-- as before. The rest of the function is 0017's.

CREATE OR REPLACE FUNCTION partial_replica.capture_secret_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    quiet_since text := current_setting('partial_replica.quiet_since', true);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO partial_replica.changes (kind, resource_id, version)
        SELECT 'upsert', c.resource_id, c.version FROM changed_rows c;
    ELSE
        INSERT INTO partial_replica.changes (kind, resource_id, version)
        SELECT 'delete', c.resource_id, c.version
          FROM changed_rows c
         WHERE NOT EXISTS (SELECT 1 FROM secrets s
                            WHERE s.resource_id = c.resource_id AND s.version >= c.version + 20
                              AND s.xmin = pg_current_xact_id()::xid);
    END IF;
    IF FOUND AND (quiet_since IS NULL OR quiet_since !~ '^[0-9]{1,12}(\.[0-9]{1,9})?$'
                  OR date_part('epoch', clock_timestamp()) - quiet_since::float8 NOT BETWEEN 0 AND 0.05) THEN
        -- Wake a gateway only while one waits, or while none has been seen for 5 s (see 0004); no row: notify.
        IF (SELECT coalesce(bool_or(l.waiting) OR NOT bool_or(l.seen_at > clock_timestamp() - interval '5 seconds'), true)
              FROM partial_replica.listeners l) THEN
            PERFORM pg_notify('partial_replica_changes', '');
        ELSE
            PERFORM set_config('partial_replica.quiet_since', date_part('epoch', clock_timestamp())::text, false);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
