-- Delta pulls (F13): what the leader keeps so that a pull client's position can be answered, or refused with 410.
-- A position is a transaction id X (EdgePosition): "every change of a transaction numbered below X is in the
-- client's copy". Two things can make it unanswerable, both recorded here:
--   * the outbox was pruned past it: prune deletes what every registered follower's cursor has passed, and a
--     pull client is not a follower with a cursor. outbox_pruned.tx is the newest transaction any of whose
--     changes a prune deleted, written by the prune's own statement (OutboxReader.PruneAsync); X is answerable
--     only while outbox_pruned.tx < X (no change at or after X has been deleted).
--   * the caller's follower registration is newer than X: grant and revoke rows exist for a follower only while
--     it is registered, so what changed in its granted set before (or between) registrations is not in the
--     outbox. registered_tx is the transaction that registered it; X is answerable only when registered_tx < X.
CREATE TABLE partial_replica.outbox_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tx        xid8 NOT NULL DEFAULT '0'
);
INSERT INTO partial_replica.outbox_pruned DEFAULT VALUES;
REVOKE ALL ON partial_replica.outbox_pruned FROM PUBLIC;

-- Rows already registered get this migration's transaction: no position was issued before it.
ALTER TABLE partial_replica.followers ADD COLUMN registered_tx xid8 NOT NULL DEFAULT pg_current_xact_id();
