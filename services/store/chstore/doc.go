// Package chstore is C-981's ClickHouse storage layer: it opens native
// protocol connections (ConnConfig, Open), applies the numbered schema
// migrations (Migrate) and maps the shared records of package event onto the
// columns of the events, alerts, incidents, actions and dead_letters tables
// (EventRow, AlertRow, IncidentRow, ActionRows, DeadLetterRow).
//
// The mapping targets the portable SQL subset that ClickHouse 18.16 and
// current releases both accept: times are a DateTime (UTC, seconds) plus a
// separate millisecond column, maps are Nested(key, value) columns inserted
// as the two dotted arrays sorted by key, and every INSERT names its columns
// explicitly (InsertQuery). Row mappers validate what the server would
// reject (ids that are not UUIDs, enum values outside the column's set,
// out-of-range integers) so that one bad record yields a row error instead of
// invalidating a whole client-side batch.
//
// Beyond the write path it provides retention (Partitions, Expired,
// DropPartition, EnforceRetention: whole day partitions, listed from
// system.parts and dropped by partition id), the read path used to replay
// history (ReadEvents, the inverse of EventRow) and the cluster variant of
// the schema (ClusterDDL: each table as a Replicated*MergeTree "_local"
// table on every shard plus a Distributed table under the original name,
// generated from the same migrations; deploy/clickhouse/cluster.sql).
//
// Migration 0005 adds
// the text-search index of events, event_tokens (TableEventTokens): a
// materialized view fills it on every insert into events, and its day
// partitions expire with the events retention.
package chstore
