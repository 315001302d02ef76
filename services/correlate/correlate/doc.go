// Package correlate is C-981's correlation stage. The Engine evaluates the
// rule set (package rule) against batches of enriched events, raises one
// alert per rule match and groups alerts into incidents; the Service runs the
// engine on the C981_EVENTS stream and publishes alerts and incident
// versions to C981_ALERTS and C981_INCIDENTS.
//
// Incidents: alerts of one site with the same incident key belong to one
// incident while each arrives within the incident window (event time) of
// the incident's last alert; a later alert opens a new incident for the key.
// Every change of an incident is a new version (Version+1) carrying the
// merged alert ids, rules, ATT&CK techniques, assets and zones, the highest
// severity and the most critical affected endpoint as Target. Incident
// state lives in an IncidentStore: MemoryStore for one-shot analysis,
// KVStore (JetStream key-value, revision-checked writes) for the service, so
// a restarted correlator continues where it stopped.
//
// Processing is idempotent: alert ids are deterministic (rule id + event
// id) and an alert already part of an incident changes nothing, so a
// redelivered message yields the same alerts and no new incident version.
package correlate
