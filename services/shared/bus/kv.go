package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KVTriage is the JetStream KV bucket of incident triage state (issue #8):
// key = incident id, value = event.Triage as JSON. The console writes it
// with compare-and-set on the key's revision; the store persists every
// revision into ClickHouse (incident_triage, incident_changes).
// EnsureBuckets creates it.
const KVTriage = "c981_triage"

// KVTriageStream is the JetStream stream backing the KVTriage bucket.
const KVTriageStream = "KV_" + KVTriage

// ConsumerStoreTriage is the store's durable consumer on KVTriageStream.
const ConsumerStoreTriage = "store-triage"

// TriageHistory is how many revisions of each key the triage bucket keeps
// (the JetStream maximum), so that a store consumer lagging behind a burst
// of writes still sees most intermediate revisions; every revision carries
// the full change history anyway.
const TriageHistory = 64

// TriageMaxValueSize bounds one triage value (an incident's triage JSON
// with its notes and history).
const TriageMaxValueSize = 1 << 20

// BucketConfigs returns the configuration of every C-981 KV bucket the bus
// contract defines (the correlator's own incident-state bucket is created
// by the correlator): today the triage bucket KVTriage. Values never expire
// (no TTL): triage state is kept for as long as its incident is reported on.
func BucketConfigs(o StreamOptions) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{{
		Bucket:       KVTriage,
		Description:  "C-981 incident triage state (status, assignee, notes, ISMS record), key = incident id",
		History:      TriageHistory,
		MaxValueSize: TriageMaxValueSize,
		Storage:      jetstream.FileStorage,
		Replicas:     max(o.Replicas, 1),
	}}
}

// EnsureBuckets creates or updates every C-981 KV bucket (BucketConfigs).
// It is idempotent; call it beside EnsureStreams.
func EnsureBuckets(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	for _, cfg := range BucketConfigs(o) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("ensure kv bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}
