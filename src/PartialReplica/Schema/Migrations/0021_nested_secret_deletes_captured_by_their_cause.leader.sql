-- The capture trigger no longer fires on deletes of secrets made inside another trigger (P4, measured in `bench`
-- with pg_stat_statements). After 0020 the pruning DELETE wrote no change row, yet the statement trigger
-- still fired on it for every write of a variable holding 20 versions: a transition table, a PL/pgSQL call and
-- an empty INSERT, 40–60 µs a commit. A WHEN condition is checked before any of that.
-- Only two kinds of delete on secrets run inside a trigger, and each is captured by its cause:
--   * Conjur's pruning (0002/0016), inside the insert of a version 20 newer of the same variable: that
--     insert's upsert pushes the kept versions (see 0020).
--   * The cascade of a deleted variable (secrets_resource_fk): the variable's deletion is captured here, one
--     'delete' row per deleted variable, in the deleting transaction (SPEC F5, "a deleted variable"). A
--     delete pushes the variable's current state, which is absent, so the follower drops every version.
--     This trigger fires at any depth, so a variable deleted by the cascade of a deleted owner role is
--     captured too.
-- A DELETE on secrets by a statement of its own (depth 0) is captured as before, one row per version.

CREATE OR REPLACE FUNCTION partial_replica.capture_deleted_variables() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id)
    SELECT 'delete', d.resource_id FROM deleted_resources d
     WHERE split_part(d.resource_id, ':', 2) = 'variable';
    IF FOUND THEN
        -- Deleting variables is rare (policy loads); wake-up only, as in 0004.
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_capture_variable_deletes AFTER DELETE ON resources
    REFERENCING OLD TABLE AS deleted_resources
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_deleted_variables();

DROP TRIGGER partial_replica_capture_deletes ON secrets;
CREATE TRIGGER partial_replica_capture_deletes AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT WHEN (pg_trigger_depth() < 1)
    EXECUTE FUNCTION partial_replica.capture_secret_changes();
