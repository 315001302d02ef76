// Package store is C-981's storage stage: it consumes the enriched events,
// alerts, incident versions, response plans and dead letters from NATS
// JetStream and writes them into their ClickHouse tables (see package
// chstore for the schema mapping).
//
// Each table has its own writer and durable pull consumer. A writer
// gathers messages until BatchRows rows or BatchWait after the first
// message, inserts them as one batch, and only then acknowledges every
// message of the batch, so a message is acknowledged only once its rows are
// durable in ClickHouse. Gathering (fetch, decode, map) and flushing
// (insert, acknowledge) run in two goroutines, so the next batch is decoded
// while ClickHouse ingests the current one; the gathered batch waiting for
// the flusher is kept alive with InProgress like the one being flushed.
// Just before each insert attempt the writer sets the rows' stored_ms
// (chstore.StoredMSColumn: Unix milliseconds of the attempt that stored
// them), from which `c981 verify` measures receipt → stored latency.
//
//   - ClickHouse down or slow: the same rows are retried with capped
//     exponential backoff until they are accepted or the service stops; the
//     messages stay unacknowledged and are kept alive with InProgress so that
//     JetStream does not redeliver them meanwhile. Nothing is dropped.
//   - Bad data: a batch the server (or the driver) rejects as bad data is
//     bisected to isolate the offending rows; the good rows are inserted and
//     each bad row is recorded in dead_letters with the reason. Records that
//     violate the contract (ids that are not UUIDs, unknown severities, ...)
//     and messages that cannot be decoded are dead-lettered the same way; an
//     undecodable message is then terminated instead of acknowledged.
//   - Crash or restart between insert and acknowledgement: the redelivered
//     messages are inserted again with the same deterministic ids, and the
//     ReplacingMergeTree tables collapse the copies (exact queries use FINAL).
//
// Text index: the events writer also writes the console's text-search
// index, event_grams (migration 0008, textindex.go): the gathering
// goroutine counts the keys of a batch's events (chstore.AppendGrams: token
// heads and 4-grams) per (site, hour), and after the batch's events are
// inserted and before it is acknowledged the flushing goroutine inserts the
// rows of the keys not yet written for each (site, hour); the keys per hour
// saturate, so once an hour is warm a batch adds few rows whatever the
// rate. The numbers of events holding keys already written are inserted as
// deltas every 10 s (a hint for the console; a delta lost at shutdown only
// costs scan time). The writer remembers the keys of the newest 3 hours per
// site (470 KB each); an older hour's keys are written again with every
// batch that holds it. Metrics:
// c981_store_text_index_rows_total{kind=new|count},
// c981_store_text_index_hours, c981_store_text_index_errors_total.
//
// Retention: Config.Retention keeps each table's rows a number of whole
// days; the service drops the expired day partitions at start and every
// RetentionInterval (chstore.EnforceRetention), counting them in
// c981_store_retention_* metrics. `c981 retention --dry-run|--apply` does
// the same once, from the command line.
package store
