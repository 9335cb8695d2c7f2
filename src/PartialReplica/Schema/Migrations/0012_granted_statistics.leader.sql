-- Fresh planner statistics for the grant table (P1, measured in `bench`). A follower's registration or a
-- policy load can add 100,000 grant rows in one statement; until autovacuum analyses the table, the planner
-- believes a follower holds a few hundred, and reads each reconcile page by scanning and sorting all of
-- them (70 ms a page instead of 5). A statement that changes many rows therefore analyses the table at
-- once, inside its own transaction (ANALYZE counts the transaction's own rows), so the load that wrote
-- them commits their statistics too.

CREATE FUNCTION partial_replica.analyze_granted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Autovacuum's own rule of thumb would wait for 10% of the table; a bulk change of a thousand rows is
    -- enough to move a page plan, and ANALYZE samples at most 30,000 rows whatever the table's size.
    IF (SELECT count(*) FROM changed_rows) >= 1000 THEN
        ANALYZE partial_replica.granted;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER granted_analyze_inserts AFTER INSERT ON partial_replica.granted
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.analyze_granted();
CREATE TRIGGER granted_analyze_deletes AFTER DELETE ON partial_replica.granted
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION partial_replica.analyze_granted();
