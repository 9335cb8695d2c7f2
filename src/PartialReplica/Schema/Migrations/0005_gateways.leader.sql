-- Followers spread over live gateways (issue 26). Each gateway registers here at start, renews its lease every
-- few seconds and deletes its row at a graceful stop; a gateway is live while lease_until is in the future by the
-- leader's clock (the gateways' clocks are never compared). Each follower is served by the live gateway that
-- rendezvous hashing gives it (Leader/Gateways/Rendezvous); the follower's advisory lock still admits one pusher at a time.
CREATE TABLE partial_replica.gateways (
    id           text PRIMARY KEY CHECK (id <> '' AND length(id) <= 200),
    url          text,                                           -- its public URL, when known
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(), -- when this run of the gateway registered
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(), -- its latest renewal
    lease_until  timestamptz NOT NULL
);
REVOKE ALL ON partial_replica.gateways FROM PUBLIC;

-- Who serves each follower, for status whichever gateway reads it: set by the worker that took the follower's lock,
-- cleared by it before it lets the lock go (a killed gateway's name stays until the next owner writes its own).
ALTER TABLE partial_replica.delivery
    ADD COLUMN gateway      text,
    ADD COLUMN served_since timestamptz;
