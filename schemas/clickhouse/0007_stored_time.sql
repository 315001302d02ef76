-- Precise stored and creation times (issue #9: receipt → stored and
-- receipt → incident latency in milliseconds). Until now the end-to-end
-- verification could only use the modification time of the part holding a
-- row (1 s resolution, later after every merge) and the alert's creation in
-- whole seconds.
--
-- stored_ms: Unix milliseconds at which the store's writer sent the insert
-- that stored the row (set just before each insert attempt, so a retried
-- insert carries the time of the attempt that succeeded). Rows stored
-- before this migration, or inserted by other tools (fixtures, backfills),
-- read 0: unknown.
--
-- alerts.created_ms and incidents.updated_ms are the milliseconds of
-- created_at and updated_at (the correlator's clock), like the other
-- DateTime + _ms column pairs.
--
-- One ALTER statement per table: each is applied as a whole or not at all.
ALTER TABLE events
    ADD COLUMN stored_ms Int64;
ALTER TABLE alerts
    ADD COLUMN created_ms UInt16,
    ADD COLUMN stored_ms Int64;
ALTER TABLE incidents
    ADD COLUMN updated_ms UInt16,
    ADD COLUMN stored_ms Int64;
