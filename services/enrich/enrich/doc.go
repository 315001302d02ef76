// Package enrich is C-981's enrich stage. It consumes parsed event batches
// from the C981_RAW stream (durable consumer "enrich"), attaches the IEC 62443
// context of each event from the loaded site models (endpoint assets and
// zones, the conduit verdict, the maintenance window) and publishes the
// enriched batch to c981.events.<site> on C981_EVENTS with a message id
// derived from the input message, acknowledging the input only after the
// server acknowledged the output. Messages are processed in windows of
// max_ack_pending (decoded and encoded by `workers` goroutines, enriched and
// published in stream order, pipelined), so the enriched batches leave in
// the order the raw batches arrived, also after a crash: the consumer
// allows one window unacknowledged, whose redeliveries come before any
// later message. Undecodable batches are dead-lettered to
// c981.dlq.enrich; events of sites without a model pass through with the
// "unknown" context and are counted. The site models are reloaded on SIGHUP
// and when their files change; a reload is validated completely and swapped
// in atomically, an invalid one keeps the old models (see Service.Reload).
package enrich
