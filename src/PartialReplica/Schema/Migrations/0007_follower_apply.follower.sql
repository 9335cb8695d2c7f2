-- Follower-side apply state. Pushes carry each variable's whole state (its kept versions, or none)
-- stamped with the leader's WAL position at the moment that state was read. A state is applied only
-- when its stamp is newer than the one applied before, so replayed, duplicated or reordered batches
-- can neither regress a version nor resurrect a revoked secret. Absent states stay as tombstones.
CREATE TABLE partial_replica.applied (
    resource_id text PRIMARY KEY,
    stamp       bigint NOT NULL,
    present     boolean NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
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
