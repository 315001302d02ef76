// Package chstore is C-981's ClickHouse storage layer: it opens native
// protocol connections (ConnConfig, Open), applies the numbered schema
// migrations (Migrate) and maps the shared records of package event onto the
// columns of the events, alerts, incidents, actions and dead_letters tables
// (EventRow, AlertRow, IncidentRow, ActionRows, DeadLetterRow).
//
// The mapping targets the portable SQL subset that ClickHouse 18.16 and
// current releases both accept: times are a DateTime (UTC, seconds) plus a
// separate millisecond column, maps are Nested(key, value) columns inserted
// as the two dotted arrays sorted by key (alerts; events until migration
// 0009), and every INSERT names its columns explicitly (InsertQuery). Row mappers validate what the server would
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
// Migrations 0005 and 0006 added text-search indexes filled by materialized
// views on events; migration 0008 replaced them with event_grams
// (TableEventGrams), the n-gram index the store's writer fills (keys:
// AppendGrams, rows: GramRow), whose day partitions expire with the events
// retention. Migration 0007 adds the writer's stored time (StoredMSColumn)
// to events, alerts and incidents. Migration 0009 stores an event's fields
// as one JSON object (FieldsJSONColumn, AppendFieldsJSON) instead of the
// Nested arrays, which rows stored before keep (DecodeStoredFields reads
// both).
//
// Insert sends a batch as blocks of InsertBlockRows rows, so the client's
// column buffers are reused from block to block; EventRef rows,
// InsertEvents and CheckEvent fill the events columns straight from the
// events (one typed append per column and block) instead of through a row
// of 80 values.
package chstore
