// Package query reads C-981's incidents, alerts, events and response plans
// from ClickHouse for the console API.
//
// Every query is parameterized: user input travels only as client-side `?`
// bound values (quoted by the driver), never spliced into SQL text, and the
// SQL text itself is made of constants. Results are the same JSON-friendly
// records the pipeline publishes on the bus (event.Incident, event.Alert,
// event.Event, event.Plan), so the API speaks the bus schema.
//
// Incidents are stored as versions in a ReplacingMergeTree(version) table
// partitioned by opened_at, which never changes, so all versions of an
// incident share a partition. Because ClickHouse collapses versions only
// eventually, the current state of an incident is computed with
// argMax(column, version) grouped by id rather than with FINAL, which is
// correct on ClickHouse 18.16 and later whatever has been merged.
package query
