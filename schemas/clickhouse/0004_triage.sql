-- Incident triage (issue #8): the people-owned state of an incident
-- (event.Triage: workflow status, assignee, notes, ISMS classification)
-- written by the console into the JetStream KV bucket c981_triage and
-- persisted here by the store's store-triage consumer, one row per KV
-- revision. The correlator's incidents table never carries triage; an
-- incident without a row here is status new, version 0.
--
-- incident_triage: one row per triage version; FINAL (or argMax(x, version)
-- grouped by site, incident_id) gives the current state. The table is not
-- partitioned, so every version of an incident collapses under FINAL.
-- Times are DateTime (UTC, seconds) plus an _ms column where ordering
-- matters; the NIS2 times are Nullable (NULL until the submission is made).
-- doc is the full event.Triage JSON of the version (notes and history
-- included) for readers that need everything.
CREATE TABLE IF NOT EXISTS incident_triage (
    site String,
    incident_id String,
    version UInt64,
    status Enum8('new' = 0, 'acknowledged' = 1, 'investigating' = 2, 'contained' = 3, 'resolved' = 4, 'closed' = 5),
    assignee String,
    updated_at DateTime,
    updated_ms UInt16,
    updated_by String,
    classification String,
    category String,
    significant UInt8,
    became_aware_at Nullable(DateTime),
    early_warning_at Nullable(DateTime),
    notification_at Nullable(DateTime),
    final_report_at Nullable(DateTime),
    impact_confidentiality String,
    impact_integrity String,
    impact_availability String,
    impact_safety String,
    impact_operations String,
    lessons_learned String,
    evidence Array(String),
    note_count UInt32,
    doc String
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, incident_id)
SETTINGS index_granularity = 8192;

-- incident_changes: the audit trail of console writes, one row per
-- event.TriageChange (a PATCH changing status and assignee is two rows with
-- the same version). field is status, assignee, note or isms.<name>;
-- from_value/to_value are the old and new values (a note's text in
-- to_value). A revision redelivered after a crash between insert and
-- acknowledgement is the same rows and collapses (exact reads use FINAL).
-- Append-only like audit: no retention applies to it.
CREATE TABLE IF NOT EXISTS incident_changes (
    site String,
    incident_id String,
    version UInt64,
    at DateTime,
    at_ms UInt16,
    actor String,
    role String,
    field String,
    from_value String,
    to_value String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (site, incident_id, version, field)
SETTINGS index_granularity = 8192;
