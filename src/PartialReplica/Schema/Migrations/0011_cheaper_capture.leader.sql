-- Cheaper capture (P4). Measured in `bench`: every secret write pays for the capture trigger, and so do
-- the walsenders that decode its WAL.
--   * The outbox keeps one index, its read order (tx, change_id), instead of two: change_id alone was
--     never looked up.
--   * The wake-up check runs inside the trigger function, where PL/pgSQL keeps its plan, instead of in a
--     SQL function that was planned again on every call.
--   * The push path asks the materialised grant table (0008), kept current by every policy load in the
--     load's own transaction, so the per-batch rule evaluation granted_among is gone.

DROP INDEX partial_replica.changes_tx;
ALTER TABLE partial_replica.changes DROP CONSTRAINT changes_pkey;
ALTER TABLE partial_replica.changes ADD PRIMARY KEY (tx, change_id);

CREATE OR REPLACE FUNCTION partial_replica.capture_secret_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT CASE TG_OP WHEN 'INSERT' THEN 'upsert' ELSE 'delete' END, c.resource_id, c.version
      FROM changed_rows c;
    -- Wake a gateway only while one waits, or while none has been seen for 5 s (see 0004).
    IF FOUND AND (EXISTS (SELECT 1 FROM partial_replica.listeners WHERE waiting)
                  OR NOT EXISTS (SELECT 1 FROM partial_replica.listeners
                                  WHERE seen_at > clock_timestamp() - interval '5 seconds')) THEN
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION partial_replica.wake_wanted();
DROP FUNCTION partial_replica.granted_among(text, text[]);
