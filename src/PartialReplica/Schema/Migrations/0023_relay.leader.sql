-- S6: followers subscribe to a relay database (the published tables only), each with a login of its own made
-- on the relay's server by `follower init`. The shared subscriber login and its password kept here are gone:
-- no password is stored in clear anywhere; each subscription holds the only copy it needs.
DELETE FROM partial_replica.settings WHERE name = 'subscriber_password';

ALTER TABLE partial_replica.followers
    ADD COLUMN login                 text,          -- the follower's replication login on the relay
    ADD COLUMN subscription_event    text,          -- what was last done to keep its subscription flowing
    ADD COLUMN subscription_event_at timestamptz;   -- and when
