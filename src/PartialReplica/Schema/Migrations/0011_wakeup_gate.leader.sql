-- Wake-ups only when someone sleeps. A transaction that NOTIFYs takes a cluster-wide lock held through
-- its commit, so notifying on every secret write serialises the leader's commits (no group commit) and
-- cut the commit rate to a third in `bench` P4. Each gateway therefore records here whether it is
-- waiting for a wake-up; writers notify only while one is (or while no gateway has registered). A busy
-- gateway keeps reading the outbox on its own, and the outbox, not the notification, is the truth.
CREATE TABLE partial_replica.listeners (
    instance text PRIMARY KEY,
    waiting  boolean NOT NULL DEFAULT true,
    seen_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A gateway refreshes seen_at every second; one not seen for 5 s (killed) no longer silences writers.
CREATE OR REPLACE FUNCTION partial_replica.wake_wanted() RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT EXISTS (SELECT 1 FROM partial_replica.listeners WHERE waiting)
        OR NOT EXISTS (SELECT 1 FROM partial_replica.listeners WHERE seen_at > clock_timestamp() - interval '5 seconds')
$$;

CREATE OR REPLACE FUNCTION partial_replica.capture_secret_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT 'upsert', i.resource_id, i.version FROM inserted i;
    IF FOUND AND partial_replica.wake_wanted() THEN
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION partial_replica.capture_secret_deletes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT 'delete', d.resource_id, d.version FROM deleted d;
    IF FOUND AND partial_replica.wake_wanted() THEN
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;
