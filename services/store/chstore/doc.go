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
package chstore
