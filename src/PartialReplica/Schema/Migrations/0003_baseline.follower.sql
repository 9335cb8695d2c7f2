-- Baseline, follower only: what the agent writes besides the replicated tables.
--
-- A follower's secrets are written by its agent alone, as pushed: each version with the leader's own number,
-- possibly before its resources row has replicated. On a follower database that already holds Conjur's schema
-- (a Conjur follower, adopted by `follower init`), two of Conjur's rules would break that, so they go here:
--   * the secrets_version trigger renumbers every inserted version as max+1, whatever the push says;
--   * the foreign key from secrets to resources refuses a secret whose variable has not replicated yet.
-- Conjur's other triggers and foreign keys stay: the apply worker runs with session_replication_role = replica,
-- so neither fires for replicated rows, and the agent writes no other Conjur table.
DROP TRIGGER IF EXISTS secrets_version ON secrets;
ALTER TABLE secrets DROP CONSTRAINT IF EXISTS secrets_resource_id_fkey;

-- Apply state. Pushes carry each variable's whole state (its kept versions, or none) stamped with the leader's
-- WAL position at the moment that state was read. A state is applied only when its stamp is newer than the one
-- applied before, so replayed, duplicated or reordered batches can neither regress a version nor resurrect a
-- revoked secret. Absent states stay as tombstones.
-- applied_at defaults to now(), not clock_timestamp(): COPY inserts row by row instead of in batches when a
-- column it fills by default has a volatile default (slower for a reconcile page); the merge path
-- stamps updates with clock_timestamp() itself.
CREATE TABLE partial_replica.applied (
    resource_id text PRIMARY KEY,
    stamp       bigint NOT NULL,
    present     boolean NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Who pushed what, batch by batch (a gateway instance id, never a value).
CREATE TABLE partial_replica.apply_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id   text NOT NULL,
    gateway    text NOT NULL,
    started_at timestamptz NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    variables  integer NOT NULL,
    skipped    integer NOT NULL,
    upserts    integer NOT NULL,
    deletes    integer NOT NULL
);
