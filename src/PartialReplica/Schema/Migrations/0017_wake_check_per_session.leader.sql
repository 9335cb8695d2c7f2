-- The wake-up check, once per writing session per 50 ms instead of once per commit (P4). Measured in `bench`
-- with pg_stat_statements: the listeners query cost a busy writer 0.024 ms of every commit, most of what capture
-- costs besides the outbox row itself.
--   * When the check finds that no gateway wants a wake-up, the session remembers when it asked, in its own
--     setting partial_replica.quiet_since (epoch seconds), and skips the check for the next 50 ms. Only "no
--     wake-up wanted" is remembered: a session that notified asks again on its next write.
--   * A gateway that turns to waiting reads the outbox again once writers' remembered answers have run out
--     (Push/WakeupGate.WritersRemember), so a write that skipped the check in that window is not left to the
--     fallback poll.
--   * A value the session did not set this way (not a number, in the future, or older than 50 ms) means ask,
--     never an error: a secret write must not fail because of this setting.

CREATE OR REPLACE FUNCTION partial_replica.capture_secret_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    quiet_since text := current_setting('partial_replica.quiet_since', true);
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT CASE TG_OP WHEN 'INSERT' THEN 'upsert' ELSE 'delete' END, c.resource_id, c.version
      FROM changed_rows c;
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
