-- Bookkeeping present on leader and followers alike.

-- The gateway bumps this row periodically; it is in the publication so that idle followers'
-- slots keep confirming WAL (a quiet publication on a busy server would otherwise retain WAL).
CREATE TABLE IF NOT EXISTS partial_replica.heartbeat (
    id      integer PRIMARY KEY CHECK (id = 1),
    beat_at timestamptz NOT NULL
);
