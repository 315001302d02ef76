// Package verify checks an end-to-end load run against what ClickHouse
// stored: every record sent by c981 loadgen carries a run id, a sequence
// number and its send time (the parser keeps them as the event fields run,
// seq and sent), so the events table alone says which sequence numbers are
// missing, which were stored more than once, and how long each event took
// from send and from ingest receipt to the stored event and to an alert.
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
//   - latency_stored_ms is send time to the event's stored time, and
//     latency_receipt_stored_ms ingest receipt to it: the stored_ms column
//     (migration 0007) the store's writer sets, in Unix milliseconds, just
//     before the insert that stored the row. Events without it (stored
//     before 0007 or by other tools) are not sampled.
//   - latency_incident_ms is, for each alert whose event_ids include events
//     of the run, the alert's creation (created_at + created_ms, the
//     correlator's clock) minus the latest send time among those events;
//     latency_receipt_incident_ms the same from the latest receipt, and
//     latency_receipt_alert_stored_ms from the latest receipt to the
//     alert's stored_ms.
//   - alerts counts the alerts (after FINAL) created since the run's first
//     receipt that name events of the run, incidents their distinct
//     incident ids, and alerts_per_event is alerts per stored event: the
//     load profile's cost on the alert and incident path.
//   - percentiles are exact: the sample at index floor(p·n) of the sorted
//     samples (ClickHouse quantileExact, which computes the receipt and
//     stored latencies server-side).
//
// Memory stays bounded for long runs: sequence numbers are streamed from
// ClickHouse in order, and only the send and receipt times of events named
// by alerts are held.
package verify
