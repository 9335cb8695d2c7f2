-- Leader bookkeeping: settings, registered followers, the change outbox and delivery state.
-- None of it is published.

CREATE TABLE partial_replica.settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
REVOKE ALL ON partial_replica.settings FROM PUBLIC;

CREATE TABLE partial_replica.followers (
    name       text PRIMARY KEY,          -- Conjur host identifier, e.g. conjur/followers/east-1
    role_id    text NOT NULL UNIQUE,      -- default:host:conjur/followers/east-1
    slot_name  text NOT NULL UNIQUE,      -- pr_conjur_followers_east_1
    agent_url  text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The durable change outbox. tx lets a reader take only rows whose transactions can no longer be
-- overtaken by an earlier-numbered row still in flight (change_id order is not commit order).
CREATE TABLE partial_replica.changes (
    change_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind        text NOT NULL CHECK (kind IN ('upsert', 'delete', 'grant', 'revoke', 'requeue')),
    resource_id text NOT NULL,
    version     integer,
    follower    text,                     -- null: every follower the grant model allows
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX changes_tx ON partial_replica.changes (tx, change_id);

CREATE TABLE partial_replica.delivery (
    follower       text PRIMARY KEY REFERENCES partial_replica.followers (name) ON DELETE CASCADE,
    last_tx        xid8 NOT NULL DEFAULT '0',   -- the outbox cursor is (tx, change_id)
    last_change_id bigint NOT NULL DEFAULT 0,
    delivered_at   timestamptz,
    needs_reconcile boolean NOT NULL DEFAULT true,  -- a full reconcile is owed (new follower, requeue)
    last_error     text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Wake-ups only when someone sleeps. A transaction that NOTIFYs takes a cluster-wide lock held through
-- its commit, so notifying on every secret write would serialise the leader's commits (no group commit).
-- Each gateway records here whether it is waiting for a wake-up (Push/WakeupGate); writers notify only
-- while one is, or while no gateway has been seen for 5 s. A busy gateway reads the outbox on its own.
CREATE TABLE partial_replica.listeners (
    instance text PRIMARY KEY,
    waiting  boolean NOT NULL DEFAULT true,
    seen_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE OR REPLACE FUNCTION partial_replica.wake_wanted() RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT EXISTS (SELECT 1 FROM partial_replica.listeners WHERE waiting)
        OR NOT EXISTS (SELECT 1 FROM partial_replica.listeners WHERE seen_at > clock_timestamp() - interval '5 seconds')
$$;

-- Capture (F5): every insert and delete on secrets writes change rows in the same transaction and,
-- when a gateway waits, wakes it. The NOTIFY payload is empty on purpose: payloads are visible to every
-- user, and identical notifications within one transaction collapse into one. Both triggers name their
-- transition table changed_rows, so one function serves both.
CREATE OR REPLACE FUNCTION partial_replica.capture_secret_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT CASE TG_OP WHEN 'INSERT' THEN 'upsert' ELSE 'delete' END, c.resource_id, c.version
      FROM changed_rows c;
    IF FOUND AND partial_replica.wake_wanted() THEN
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_capture_inserts AFTER INSERT ON secrets
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_secret_changes();
CREATE TRIGGER partial_replica_capture_deletes AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_secret_changes();
