package bus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

func TestToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"demo-plant", "demo-plant"},
		{"", "_"},
		{"a.b", "a_b"},
		{"a b*>", "a_b__"},
		{"tab\there", "tab_here"},
		{"ümlaut", "__mlaut"},
	}
	for _, tc := range tests {
		if got := bus.Token(tc.in); got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := bus.RawSubject("demo.plant", "tcp 1"); got != "c981.raw.demo_plant.tcp_1" {
		t.Errorf("RawSubject = %q", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"tls://enrich:s3cret@nats:4222", "tls://enrich:xxxxx@nats:4222"},
		{"nats://a:p1@h1:4222,nats://b:p2@h2:4222", "nats://a:xxxxx@h1:4222,nats://b:xxxxx@h2:4222"},
		{"nats://s3cr3t-token@h:4222", "nats://xxxxx@h:4222"},
	}
	for _, tc := range tests {
		if got := bus.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPublishDeduplicatesByMsgID(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	evs := []event.Event{{ID: event.NewID("x"), Site: "s"}}
	for range 3 {
		if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("s", "src"), "batch-1", evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("s", "src"), "batch-2", evs); err != nil {
		t.Fatal(err)
	}
	st, err := env.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream has %d messages, want 2 (same msg id must be stored once)", info.State.Msgs)
	}
}

func TestConsumeAckPoisonRetry(t *testing.T) {
	env := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subj := bus.EventsSubject("s")
	for i, payload := range []string{"ok", "poison", "flaky"} {
		if err := bus.Publish(ctx, env.JS, subj, payload, 1, []byte(payload)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig("test", 10, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var flakyFails atomic.Int32
	done := make(chan struct{})
	h := func(_ context.Context, m jetstream.Msg) error {
		p := string(m.Data())
		mu.Lock()
		seen[p]++
		n := seen[p]
		mu.Unlock()
		switch p {
		case "poison":
			return bus.Poison(errors.New("cannot decode"))
		case "flaky":
			if n < 3 {
				flakyFails.Add(1)
				return errors.New("downstream unavailable")
			}
			close(done)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		errc <- bus.Consume(ctx, env.JS, cons, h, bus.ConsumeOptions{Stage: "test", RetryDelay: 20 * time.Millisecond})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("flaky message was not redelivered until success")
	}
	// Wait for acks to settle, then check consumer state.
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer not drained: pending=%d ack_pending=%d", info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Consume returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["ok"] != 1 || seen["poison"] != 1 || seen["flaky"] != 3 {
		t.Fatalf("deliveries = %v, want ok:1 poison:1 flaky:3", seen)
	}
	// The poison message is in the DLQ with its reason.
	dlq, err := env.JS.OrderedConsumer(context.Background(), bus.StreamDLQ, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := dlq.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	var dls []event.DeadLetter
	if err := event.Unmarshal(msg.Data(), &dls); err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].Payload != "poison" || dls[0].Stage != "test" || dls[0].Reason == "" {
		t.Fatalf("dead letter = %+v", dls)
	}
}

// TestEnsureStreamsKeepsSources checks that a stage starting alone (which
// runs EnsureStreams) keeps the sources provisioned on a stream, such as
// central's C981_RAW sourcing a site's JetStream domain.
func TestEnsureStreamsKeepsSources(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	if _, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "UPSTREAM", Subjects: []string{"upstream.>"}}); err != nil {
		t.Fatal(err)
	}
	cfgs := bus.StreamConfigs(bus.DefaultStreamOptions())
	var raw jetstream.StreamConfig
	for _, c := range cfgs {
		if c.Name == bus.StreamRaw {
			raw = c
		}
	}
	raw.Sources = []*jetstream.StreamSource{{Name: "UPSTREAM"}}
	if _, err := env.JS.UpdateStream(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, env.JS, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	st, err := env.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	src := st.CachedInfo().Config.Sources
	if len(src) != 1 || src[0].Name != "UPSTREAM" {
		t.Fatalf("sources after EnsureStreams: %+v, want UPSTREAM kept", src)
	}
	// The source still delivers after the update.
	if _, err := env.JS.Publish(ctx, "upstream.x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("C981_RAW holds %d messages, want the sourced one", info.State.Msgs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
