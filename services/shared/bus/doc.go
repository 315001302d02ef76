// Package bus defines C-981's NATS JetStream contract (streams, subjects,
// durable consumer names, headers) and the helpers every stage uses to
// publish batches idempotently and to consume them with acknowledgement only
// after the effect is durable.
//
// Streams (all file storage, limits retention, DiscardNew so a full stream
// pushes back on publishers instead of silently evicting unprocessed data):
//
//	C981_RAW        c981.raw.<site>.<source>   parsed events from ingest
//	C981_EVENTS     c981.events.<site>         enriched events
//	C981_ALERTS     c981.alerts.<site>         alerts from the correlator
//	C981_INCIDENTS  c981.incidents.<site>      incident versions
//	C981_ACTIONS    c981.actions.<site>        response plans (steps = audit records)
//	C981_DLQ        c981.dlq.<stage>           dead letters with their reason
//
// Every message carries a batch of records encoded by package event and a
// deterministic Nats-Msg-Id, so a publish retried after a timeout is
// deduplicated by the server within the duplicate window.
package bus
