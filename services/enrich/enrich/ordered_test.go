package enrich

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// orderedInput publishes n raw batches of per events each (event ids
// "b<batch>-e<event>") to C981_RAW, with a garbage message instead of the
// batches listed in poison, and returns the event ids in publish order.
func orderedInput(t *testing.T, js jetstream.JetStream, n, per int, poison map[int]bool) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for b := range n {
		id := fmt.Sprintf("raw-%d", b)
		if poison[b] {
			if err := bus.Publish(ctx, js, bus.RawSubject("demo-plant", "fw"), id, 1, []byte("not msgpack")); err != nil {
				t.Fatal(err)
			}
			continue
		}
		evs := make([]event.Event, per)
		for e := range per {
			evs[e] = rawEvent(fmt.Sprintf("b%d-e%d", b, e), "demo-plant", "10.20.2.11", fmt.Sprintf("10.20.1.%d", 11+e%2), 502, "modbus", "read")
			ids = append(ids, evs[e].ID)
		}
		if err := bus.PublishRecords(ctx, js, bus.RawSubject("demo-plant", "fw"), id, evs); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// readOrdered reads want event ids from C981_EVENTS in stream order.
func readOrdered(t *testing.T, js jetstream.JetStream, want int) []string {
	t.Helper()
	c, err := js.OrderedConsumer(context.Background(), bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			continue
		}
		evs, err := event.UnmarshalEvents(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			got = append(got, e.ID)
		}
	}
	return got
}

func runService(t *testing.T, js jetstream.JetStream, cfg Config) (*Service, *prometheus.Registry) {
	t.Helper()
	cfg.Sites = []string{demoSite}
	cfg.ReloadInterval = -1
	svc, reg, _ := runWith(t, js, cfg)
	return svc, reg
}

func sameOrder(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d of the output is %s, want %s (output order differs from input order)", i, got[i], want[i])
		}
	}
}

// TestOrderedOutput: windows of parallel decode and encode publish the
// enriched batches in input order, with poison batches in between.
func TestOrderedOutput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		window  int
		workers int
	}{
		{"one at a time", 1, 1},
		{"window 8, 4 workers", 8, 4},
		{"window 16, 2 workers", 16, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := bustest.Start(t)
			want := orderedInput(t, env.JS, 60, 7, map[int]bool{5: true, 17: true, 18: true})
			_, reg := runService(t, env.JS, Config{MaxAckPending: tc.window, Workers: tc.workers})
			sameOrder(t, readOrdered(t, env.JS, len(want)), want)
			eventually(t, func() bool { return metric(t, reg, "c981_enrich_poison_total") == 3 })
			// A batch is counted after its window's publishes are acknowledged.
			waitAtLeast(t, reg, "c981_enrich_batches_total", 57)
			if got := metric(t, reg, "c981_enrich_batches_total"); got != 57 {
				t.Errorf("batches_total = %v, want 57", got)
			}
		})
	}
}

// TestOrderAfterCrash: a crashed instance held the first window
// unacknowledged. The restarted stage gets nothing else before the window
// is redelivered (after AckWait), so the output is still in input order.
func TestOrderAfterCrash(t *testing.T) {
	const window = 8
	env := bustest.Start(t)
	want := orderedInput(t, env.JS, 5*window, 3, nil)
	ctx := context.Background()
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamRaw, bus.ConsumerConfig(bus.ConsumerEnrich, window, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	held, err := cons.Fetch(window, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range held.Messages() {
		n++ // delivered, never acknowledged: the instance crashed
	}
	if n != window {
		t.Fatalf("crashed instance fetched %d messages, want %d", n, window)
	}
	_, reg := runService(t, env.JS, Config{MaxAckPending: window, Workers: 2, AckWait: time.Second})
	sameOrder(t, readOrdered(t, env.JS, len(want)), want)
	waitAtLeast(t, reg, "c981_enrich_batches_total", 5*window)
	if got := metric(t, reg, "c981_enrich_batches_total"); got != 5*window {
		t.Errorf("batches_total = %v, want %d", got, 5*window)
	}
}

// TestSplitKeepsOrder: a batch larger than MaxBatchBytes in the middle of a
// window is published in halves, still in input order.
func TestSplitKeepsOrder(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	var want []string
	for b := range 12 {
		per := 3
		if b == 6 {
			per = 400 // about 150 KB encoded: split below max_batch_bytes
		}
		evs := make([]event.Event, per)
		for e := range per {
			evs[e] = rawEvent(fmt.Sprintf("b%d-e%d", b, e), "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "read")
			evs[e].Raw = strings.Repeat("x", 300)
			want = append(want, evs[e].ID)
		}
		if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("demo-plant", "fw"), fmt.Sprintf("raw-%d", b), evs); err != nil {
			t.Fatal(err)
		}
	}
	_, reg := runService(t, env.JS, Config{MaxAckPending: 16, Workers: 2, MaxBatchBytes: 32 << 10})
	sameOrder(t, readOrdered(t, env.JS, len(want)), want)
	if got := metric(t, reg, "c981_enrich_published_messages_total"); got <= 12 {
		t.Errorf("published_messages_total = %v, want more than 12 (the large batch split)", got)
	}
}

// waitAtLeast waits (up to 10 s) until the metric name reaches want, so
// that an equality check after it sees every count made by then.
func waitAtLeast(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); metric(t, reg, name) < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRetryInPlaceKeepsOrder: while C981_EVENTS refuses writes (full), the
// window is retried in place; once it accepts them again, nothing was
// dead-lettered and the output is in input order.
func TestRetryInPlaceKeepsOrder(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	stream, err := env.JS.Stream(ctx, bus.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	full := stream.CachedInfo().Config
	full.MaxBytes = 64 // smaller than any batch: every publish is refused
	if _, err := env.JS.UpdateStream(ctx, full); err != nil {
		t.Fatal(err)
	}
	want := orderedInput(t, env.JS, 30, 5, nil)
	_, reg := runService(t, env.JS, Config{MaxAckPending: 8, Workers: 2, RetryDelay: 200 * time.Millisecond})
	time.Sleep(time.Second) // a few failed attempts (fewer than MaxDeliver)
	if got := metric(t, reg, "c981_enrich_batches_total"); got != 0 {
		t.Fatalf("batches_total = %v while the stream refuses writes, want 0", got)
	}
	full.MaxBytes = -1
	if _, err := env.JS.UpdateStream(ctx, full); err != nil {
		t.Fatal(err)
	}
	sameOrder(t, readOrdered(t, env.JS, len(want)), want)
	if got := metric(t, reg, "c981_enrich_poison_total"); got != 0 {
		t.Errorf("poison_total = %v, want 0 (nothing dead-lettered)", got)
	}
}
