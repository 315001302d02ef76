package natsconf_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/natsconf"
	"github.com/c981/c981/services/shared/bus"
)

// TestLeastPrivilegeTriage proves the triage path under the generated
// permissions: the console creates the triage bucket and writes it with
// compare-and-set; the store pulls every revision with its durable
// consumer; no other service can write triage.
func TestLeastPrivilegeTriage(t *testing.T) {
	as := startAuthServer(t, natsconf.Options{Sites: []string{"demo-plant"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prov := as.connect(t, natsconf.ProvisionUser)
	if err := bus.EnsureStreams(ctx, prov.js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	console := as.connect(t, natsconf.ServiceUser(natsconf.ConsoleUser))
	const key = "0b8c2c4e-5f1a-4d2b-9c3e-7a6b5c4d3e2f"

	t.Run("console creates the bucket and writes with compare-and-set", func(t *testing.T) {
		if err := bus.EnsureBuckets(ctx, console.js, bus.DefaultStreamOptions()); err != nil {
			t.Fatalf("EnsureBuckets as the console: %v", err)
		}
		kv, err := console.js.KeyValue(ctx, bus.KVTriage)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := kv.Create(ctx, key, []byte(`{"version":1}`))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		e, err := kv.Get(ctx, key)
		if err != nil || e.Revision() != rev {
			t.Fatalf("get: %v", err)
		}
		if _, err := kv.Update(ctx, key, []byte(`{"version":2}`), rev); err != nil {
			t.Fatalf("update: %v", err)
		}
		if _, err := kv.Update(ctx, key, []byte(`{"version":2}`), rev); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			t.Fatalf("stale update: %v, want a revision mismatch", err)
		}
	})

	t.Run("store pulls the revisions", func(t *testing.T) {
		c := as.connect(t, natsconf.ServiceUser(bus.StageStore))
		cons, err := c.js.CreateOrUpdateConsumer(ctx, bus.KVTriageStream, bus.ConsumerConfig(bus.ConsumerStoreTriage, 10, 30*time.Second))
		if err != nil {
			t.Fatalf("store-triage consumer: %v", err)
		}
		msgs, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		if n != 2 {
			t.Fatalf("fetched %d revisions, want 2", n)
		}
	})

	for _, user := range []string{bus.StageStore, bus.StageCorrelate, bus.StageRespond, bus.StageIngest} {
		t.Run(user+" cannot write triage", func(t *testing.T) {
			c := as.connect(t, natsconf.ServiceUser(user))
			subject := "$KV." + bus.KVTriage + "." + key
			before := streamMsgs(t, console.js, bus.KVTriageStream)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.js.Publish(pctx, subject, []byte(`{"version":9}`))
			cancel()
			if err == nil {
				t.Fatalf("%s wrote %s", user, subject)
			}
			if !c.violated(subject) {
				t.Errorf("no permissions violation reported for %s (publish error %v)", subject, err)
			}
			if after := streamMsgs(t, console.js, bus.KVTriageStream); after != before {
				t.Fatalf("%s grew from %d to %d messages", bus.KVTriageStream, before, after)
			}
		})
	}
}
