// Package verify checks an end-to-end load run against what ClickHouse
// stored: every record sent by c981 loadgen carries a run id, a sequence
// number and its send time (the parser keeps them as the event fields run,
// seq and sent), so the events table alone says which sequence numbers are
// missing, which were stored more than once, and how long each event took
// from send to ingest receipt, to a stored part and to an alert.
//
// Method and resolution:
//   - sent is Options.Expect when given, else the highest sequence number
//     stored; the expected range is Options.First..First+sent-1.
//   - stored counts distinct sequence numbers after FINAL.
//   - duplicated counts events stored more than once after FINAL: for each
//     sequence number, distinct event ids beyond the first. Raw duplicate
//     rows (the same event id in several rows before FINAL, which a
//     ReplacingMergeTree collapses at merge time; a redelivered batch causes
//     them) are reported separately as duplicate_rows.
//   - rate is stored events per second between the first and last ingest
//     receipt (received_at/received_ms, millisecond resolution).
//   - latency_ms is send time (the sent field, nanoseconds) to ingest
//     receipt.
//   - latency_stored_ms uses the modification time of the data part that
//     holds the row (system.parts, truncated to the second, so up to 1 s
//     early). A merge rewrites a part and moves its time later, so for a
//     long run it overstates the latency of events in merged parts.
//   - latency_incident_ms is, for each alert whose event_ids include events
//     of the run, the alert's created_at (second resolution) minus the
//     latest send time among those events.
//   - percentiles are exact: the sample at index floor(p·n) of the sorted
//     samples (ClickHouse quantileExact, which computes the receipt and
//     stored latencies server-side).
//
// Memory stays bounded for long runs: sequence numbers are streamed from
// ClickHouse in order, and only the send times of events named by alerts
// are held.
package verify
