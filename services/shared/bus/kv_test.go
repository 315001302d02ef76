package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
)

func TestEnsureBucketsIdempotentCAS(t *testing.T) {
	env := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		if err := bus.EnsureBuckets(ctx, env.JS, bus.DefaultStreamOptions()); err != nil {
			t.Fatalf("EnsureBuckets #%d: %v", i+1, err)
		}
	}
	kv, err := env.JS.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != bus.TriageHistory || st.TTL() != 0 {
		t.Errorf("bucket history %d ttl %s, want %d and no TTL", st.History(), st.TTL(), bus.TriageHistory)
	}
	if _, err := env.JS.Stream(ctx, bus.KVTriageStream); err != nil {
		t.Errorf("stream %s: %v", bus.KVTriageStream, err)
	}
	rev, err := kv.Create(ctx, "inc", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "inc", []byte("again")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second Create: %v, want ErrKeyExists", err)
	}
	if _, err := kv.Update(ctx, "inc", []byte("v2"), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Update(ctx, "inc", []byte("stale"), rev); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Errorf("stale Update: %v, want ErrKeyRevisionMismatch", err)
	}
}
