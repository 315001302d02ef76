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
// partitioned by first_seen. Because ClickHouse only collapses versions
// within one partition (and only eventually), the current state of an
// incident is computed with argMax(column, version) grouped by id rather than
// with FINAL, which is correct on ClickHouse 18.16 and later even when a
// later version moved to another partition.
package query
