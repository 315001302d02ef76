// Package correlate is C-981's correlation stage. The Engine evaluates the
// rule set (package rule) against batches of enriched events, raises
// alerts and groups them into incidents; the Service runs the engine on the
// C981_EVENTS stream and publishes alerts and incident versions to
// C981_ALERTS and C981_INCIDENTS.
//
// Stateful rules (threshold, distinct, sequence, absence) keep state per
// rule, site and key on event time. Every site is a partition with its own
// watermark: the highest event time seen minus the allowed lateness.
// Events older than the watermark are late (counted; only match rules see
// them). Absence rules alert when a site's watermark passes a key's
// deadline. State is bounded per rule (max keys, evictions counted), and
// each rule has a per-key dedup window (suppress).
//
// Durable state: after publishing a message's outputs, the Service
// checkpoints the keys the message changed to a JetStream key-value bucket
// (StateStore, default C981_CORRELATE_STATE) and only then acknowledges
// the message; a restarted correlator restores the bucket and resumes open
// windows and sequences. Every key records the stream sequence of the last
// message applied to it, so a message redelivered after a restart does not
// count twice (its alerts were published before the checkpoint), and a
// retry of the last message reuses its evaluation (Engine.ProcessAt).
// State is restored only into rules whose Fingerprint is unchanged.
//
// Order: replay detection and the stateful rules themselves assume the
// messages are applied in stream order. The Service pipelines messages
// (Config.MaxAckPending in flight, default 64) and still applies them in
// stream order: an apply stage decodes and evaluates message n+1 while a
// commit stage waits for the PubAcks of message n's alerts and incident
// versions (published asynchronously with message ids derived from the
// input), writes its checkpoint (keys, then watermarks) and acknowledges
// it, in order. A delivery out of the consumer's sequence or a failed
// message restarts the pipeline from the checkpoint; a redelivery of a
// message already applied is acknowledged, not applied again. On start,
// messages a predecessor left unacknowledged are not awaited for AckWait:
// the consumer is reset to the first of them (ResetConsumerToSequence), so
// a restarted correlator raises exactly the alerts and incidents of an
// uninterrupted run, at once (the fault matrix in services/c981/faults
// checks this end to end). The consumer pulls with a byte budget as well
// (Config.PullMaxBytes, bus.PullBudget), so a backlog of large batches
// does not fill memory.
//
// Memory: the apply stage decodes a message with
// event.UnmarshalEventsRawFields, so the events' strings point into the
// message instead of being allocated one by one, and an event's Fields map
// is built only when a rule that reads fields is a candidate for it (see
// rule.Rule.ReadsFields). Whatever the engine keeps
// beyond a message (window, sequence and absence state, watermarks,
// maintenance targets, incidents, the alerts of the last batch) holds
// copies of its own (see own.go; TestSharedDecodeRetention overwrites the
// input after processing and finds the state and outputs unchanged).
//
// Incidents: alerts of one site with the same incident key belong to one
// incident while each arrives within the incident window (event time) of
// the incident's last alert; a later alert opens a new incident for the key.
// Every change of an incident is a new version (Version+1, at most one per
// incident and input batch) carrying the alert count, the ids of its first
// and last alerts (KeptAlertIDs in all: a version's size and the cost of
// adding an alert do not grow with the incident), the merged rules, ATT&CK
// techniques, assets and zones, the highest severity, the most critical
// affected endpoint as Target and the other side of that alert as Source,
// and a Risk score (see Risk). Incident state lives in an IncidentStore: MemoryStore for one-shot analysis,
// KVStore (JetStream key-value, revision-checked writes) for the service, so
// a restarted correlator continues where it stopped. The service puts a
// CachedStore in front of it: the current incident of a recently used key
// is kept in memory, so updating it costs one revision-checked write and no
// read (a concurrent writer makes that write conflict, and the key is
// re-read). The incident keys of one batch are assigned concurrently
// (EngineOptions.StoreConcurrency): a batch costs about one store round
// trip per StoreConcurrency keys instead of two per key in sequence.
//
// Processing is idempotent: alert ids are deterministic (rule id + event
// id; for absence rule + site + key + deadline), and a redelivered message
// yields the same alerts, assigned to the same incidents, and no new
// incident version. The current incident of a key keeps a journal of the
// last input positions (stream sequences) applied to the key and where
// their alerts went (Entry.Applied, ReplayDepth positions, the service's
// MaxAckPending: only messages not yet acknowledged are redelivered), so a
// redelivery is recognised by its position in O(1), not by looking its
// alerts up. The same event under a new position (a duplicate upstream)
// is recognised while its alert id is one the current incident keeps.
//
// Rule fixtures (RunFixture) feed a rule pack's testdata/<ID>/events.jsonl
// through an Engine with a fake clock and compare the alerts with
// expected.json; `c981 rules test` and the package tests use them.
package correlate
