-- Token revocations seen by every gateway (issue 26, SPEC S1/F14), whoever made them: a key rotated or a host
-- deleted by Conjur itself, a follower removed by the CLI, or either done through a gateway. Triggers record the
-- role and the leader's time; each gateway reads the rows (LeaderTokenRevocationFeed: LISTEN, a poll, and a read
-- for the role at every authentication) and refuses the role's tokens issued at or before that time. The
-- NOTIFY carries no payload at all, so no key material (nor a role id) ever travels in it. Gateways prune rows
-- older than the longest token life and the clock skew.
CREATE TABLE partial_replica.token_revocations (
    role_id    text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (role_id, revoked_at)
);
CREATE INDEX token_revocations_revoked_at ON partial_replica.token_revocations (revoked_at);
REVOKE ALL ON partial_replica.token_revocations FROM PUBLIC;

-- One function for the three triggers; a row trigger, as column lists (UPDATE OF api_key) take no transition
-- tables. Rotations and deletions are rare, and the WHEN conditions keep every other update of credentials
-- (expiration, restricted_to) from calling it at all. SECURITY DEFINER with a fixed search_path: Conjur's own
-- rotation must not fail because the role it connects as has no right on partial_replica's table.
CREATE FUNCTION partial_replica.record_token_revocation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO partial_replica.token_revocations (role_id) VALUES (OLD.role_id) ON CONFLICT DO NOTHING;
    PERFORM pg_notify('partial_replica_token_revocations', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER partial_replica_revoke_on_rotation AFTER UPDATE OF api_key ON credentials
    FOR EACH ROW WHEN (OLD.api_key IS DISTINCT FROM NEW.api_key)
    EXECUTE FUNCTION partial_replica.record_token_revocation();

CREATE TRIGGER partial_replica_revoke_on_delete AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION partial_replica.record_token_revocation();

CREATE TRIGGER partial_replica_revoke_on_follower_delete AFTER DELETE ON partial_replica.followers
    FOR EACH ROW EXECUTE FUNCTION partial_replica.record_token_revocation();
