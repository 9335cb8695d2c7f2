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

-- Capture (F5): every insert and delete on secrets writes change rows in the same transaction and
-- wakes the gateway. The NOTIFY payload is empty on purpose: payloads are visible to every user, and
-- identical notifications within one transaction collapse into one.
CREATE OR REPLACE FUNCTION partial_replica.capture_secret_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partial_replica.changes (kind, resource_id, version)
    SELECT 'upsert', i.resource_id, i.version FROM inserted i;
    IF FOUND THEN
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
    IF FOUND THEN
        PERFORM pg_notify('partial_replica_changes', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_capture_inserts AFTER INSERT ON secrets
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_secret_inserts();
CREATE TRIGGER partial_replica_capture_deletes AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.capture_secret_deletes();
