-- A follower recorded, its agent moved, or a follower removed: gateways hear it at once (LISTEN
-- partial_replica_followers) rather than at their next refresh (Dispatch:FollowersRefreshInterval, 2 s by
-- default), so a new follower's reconcile starts when its agent URL commits. Measured in `bench` (P1): the
-- refresh had added up to its interval before the first page. The payload is always empty.

CREATE FUNCTION partial_replica.notify_followers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('partial_replica_followers', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER followers_changed AFTER INSERT OR UPDATE OR DELETE ON partial_replica.followers
    FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.notify_followers_changed();
