-- Operator status (F9): when a follower last received a push, what failed and since when, the push breaker's
-- pause, and the follower's last ten errors. Written by the worker that serves the follower; read by status.
ALTER TABLE partial_replica.delivery
    ADD COLUMN last_push_at     timestamptz,   -- the agent's latest acknowledged batch (delivered_at also moves on idle cursor advances)
    ADD COLUMN last_error_since timestamptz,   -- start of the current failing stretch; cleared with last_error on success
    ADD COLUMN breaker_until    timestamptz;   -- the push breaker is open (pushes paused) until then; null when closed

-- Newest ten per follower are kept (the worker trims on insert). Messages name causes, never secret values.
CREATE TABLE partial_replica.follower_errors (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follower text NOT NULL REFERENCES partial_replica.followers (name) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    message  text NOT NULL
);
CREATE INDEX follower_errors_newest ON partial_replica.follower_errors (follower, id DESC);
