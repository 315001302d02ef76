-- C-981 initial schema. Portable subset: runs on ClickHouse 18.16 (Debian)
-- and current releases. Times are DateTime (UTC, second precision) plus a
-- millisecond column; retention is by dropping day partitions.
-- Tables are ReplacingMergeTree keyed on deterministic ids so that a batch
-- re-inserted after a crash between insert and acknowledgement collapses
-- (exact counts use FINAL).

CREATE TABLE IF NOT EXISTS events (
    id UUID,
    site String,
    time DateTime,
    time_ms UInt16,
    received_at DateTime,
    received_ms UInt16,
    source String,
    format String,
    transport String,
    peer String,
    host String,
    app String,
    proc_id String,
    msg_id String,
    facility Int8,
    severity Int8,
    message String,
    kind String,
    category String,
    action String,
    outcome String,
    user String,
    src_ip String,
    dst_ip String,
    src_port UInt16,
    dst_port UInt16,
    proto String,
    app_proto String,
    operation String,
    fields Nested(key String, value String),
    raw String,
    src_known UInt8,
    src_asset String,
    src_role String,
    src_zone String,
    src_zone_kind String,
    src_purdue Float32,
    src_safety UInt8,
    dst_known UInt8,
    dst_asset String,
    dst_role String,
    dst_zone String,
    dst_zone_kind String,
    dst_purdue Float32,
    dst_sl_t UInt8,
    dst_criticality String,
    dst_safety UInt8,
    flow_cross_zone UInt8,
    flow_allowed UInt8,
    flow_conduit String,
    flow_violation String,
    maint_active UInt8,
    maint_window String,
    model_version UInt32,
    peer_identity String,
    time_raw String,
    vendor String,
    product String,
    signature_id String,
    signature String,
    event_code String,
    techniques Array(String),
    src_mac String,
    dst_mac String,
    bytes_out UInt64,
    bytes_in UInt64,
    session String,
    flow_new_pair UInt8,
    flow_purdue_delta Float32,
    flow_safety_involved UInt8,
    maint_work_order String
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(time)
ORDER BY (site, toStartOfHour(time), id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS alerts (
    id UUID,
    site String,
    time DateTime,
    time_ms UInt16,
    created_at DateTime,
    rule_id String,
    rule_title String,
    severity Enum8('info' = 0, 'low' = 1, 'medium' = 2, 'high' = 3, 'critical' = 4),
    techniques Array(String),
    incident_key String,
    incident_id UUID,
    event_ids Array(String),
    summary String,
    src_ip String,
    src_asset String,
    src_zone String,
    dst_ip String,
    dst_asset String,
    dst_role String,
    dst_zone String,
    dst_safety UInt8,
    fields Nested(key String, value String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(time)
ORDER BY (site, toStartOfHour(time), id)
SETTINGS index_granularity = 8192;

-- One row per incident version; FINAL keeps the highest version. FINAL only
-- collapses rows within one partition, so the partition key must be the same
-- for every version of an incident: opened_at (the event time of the alert
-- that opened it) never changes, whereas first_seen moves earlier when an
-- out-of-order alert arrives and would split the versions across partitions.
CREATE TABLE IF NOT EXISTS incidents (
    id UUID,
    version UInt64,
    site String,
    key String,
    title String,
    severity Enum8('info' = 0, 'low' = 1, 'medium' = 2, 'high' = 3, 'critical' = 4),
    status Enum8('new' = 0, 'acknowledged' = 1, 'investigating' = 2, 'contained' = 3, 'resolved' = 4, 'closed' = 5),
    opened_at DateTime,
    opened_at_ms UInt16,
    first_seen DateTime,
    first_seen_ms UInt16,
    last_seen DateTime,
    last_seen_ms UInt16,
    updated_at DateTime,
    alert_count UInt32,
    alert_ids Array(String),
    rule_ids Array(String),
    techniques Array(String),
    assets Array(String),
    zones Array(String),
    target_ip String,
    target_asset String,
    target_role String,
    target_zone String,
    target_zone_kind String,
    target_purdue Float32,
    target_sl_t UInt8,
    target_criticality String,
    target_safety UInt8,
    maint_active UInt8,
    risk UInt8,
    source_ip String,
    source_asset String,
    source_role String,
    source_zone String,
    source_zone_kind String,
    source_purdue Float32
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toDate(opened_at)
ORDER BY (site, id)
SETTINGS index_granularity = 8192;

-- One row per plan step: the response plan and its audit record.
CREATE TABLE IF NOT EXISTS actions (
    plan_id UUID,
    incident_id UUID,
    incident_version UInt64,
    site String,
    playbook_id String,
    playbook_title String,
    created_at DateTime,
    created_ms UInt16,
    step_index UInt16,
    step_id String,
    kind String,
    action String,
    class Enum8('passive' = 0, 'boundary' = 1, 'intrusive' = 2),
    audience String,
    text String,
    decision Enum8('allowed' = 0, 'needs_approval' = 1, 'forbidden' = 2),
    reason String,
    approvers Array(String),
    automatic UInt8,
    quorum UInt8,
    timeout_s UInt32
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(created_at)
ORDER BY (site, incident_id, plan_id, step_index)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS dead_letters (
    id UUID,
    time DateTime,
    time_ms UInt16,
    stage String,
    site String,
    source String,
    reason String,
    payload String,
    position String
) ENGINE = ReplacingMergeTree()
PARTITION BY toDate(time)
ORDER BY (stage, time, id)
SETTINGS index_granularity = 8192;
