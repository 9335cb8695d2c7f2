-- Follower only: replaying a leader heartbeat notifies the agent.
--
-- The agent applies a push once its follower has replayed the leader's heartbeat up to the batch's stamps (SPEC S6).
-- It used to find that out only by polling the heartbeat row; every ms its poll overshot the replay was added to
-- commit-to-visible. Now the apply of each beat notifies `partial_replica_replayed` (empty payload: the agent reads
-- the position itself, in the statement that also checks the grants), and the agent checks at once. Polling stays
-- as the fallback, so a missed notification only costs the wait it used to.
--
-- The subscription's apply worker runs with session_replication_role = replica and fires only row triggers that are
-- enabled ALWAYS (or REPLICA); statement triggers it does not fire at all.
CREATE FUNCTION partial_replica.heartbeat_replayed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('partial_replica_replayed', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER heartbeat_replayed AFTER INSERT OR UPDATE ON partial_replica.heartbeat
    FOR EACH ROW EXECUTE FUNCTION partial_replica.heartbeat_replayed();
ALTER TABLE partial_replica.heartbeat ENABLE ALWAYS TRIGGER heartbeat_replayed;
