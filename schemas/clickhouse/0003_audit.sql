-- The response audit trail (issue #7): one row per record of the per-site
-- hash chains the respond stage appends to the C981_AUDIT stream, stored by
-- the store's store-audit consumer. `c981 audit verify --clickhouse` reads a
-- site's chain back in seq order and recomputes every link.
--
-- The columns are the record's JSON fields; the time is kept exactly (time
-- in whole seconds plus time_ns, its nanoseconds) because the hash covers it.
--
-- ReplacingMergeTree keyed on (site, seq, id, hash): a record redelivered after
-- a crash between insert and acknowledgement is the same row and collapses
-- (exact counts use FINAL). A modified copy of a record with another id or hash
-- stays beside the original, so verify sees two versions of one seq; one
-- that keeps both no longer matches its content. Either is reported. (The
-- id, a deterministic UUID, is also what a cluster shards the table by.)
--
-- The table is append-only: rows are never updated or deleted, and no
-- retention applies to it (it is not in chstore.Tables). Grant the store's
-- writer user INSERT on it only (GRANT INSERT ON c981.audit TO store on
-- servers with SQL access control; readonly users on 18.16 users.xml for
-- readers), never ALTER, DROP or TRUNCATE.
CREATE TABLE IF NOT EXISTS audit (
    site String,
    seq UInt64,
    id UUID,
    time DateTime,
    time_ns UInt32,
    actor String,
    actor_role String,
    kind String,
    what String,
    why String,
    result String,
    incident_id String,
    incident_version UInt64,
    plan_id String,
    step_id String,
    inputs_hash String,
    prev_hash String,
    hash String
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(time)
ORDER BY (site, seq, id, hash);
