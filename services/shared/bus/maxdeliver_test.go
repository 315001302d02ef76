package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

func TestConsumerConfigMaxDeliver(t *testing.T) {
	tests := []struct {
		name string
		opts []bus.ConsumerOption
		want int
	}{
		{"default", nil, bus.DefaultMaxDeliver},
		{"zero means default", []bus.ConsumerOption{bus.WithMaxDeliver(0)}, bus.DefaultMaxDeliver},
		{"explicit", []bus.ConsumerOption{bus.WithMaxDeliver(3)}, 3},
		{"unlimited", []bus.ConsumerOption{bus.WithMaxDeliver(-5)}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bus.ConsumerConfig("d", 0, 0, tc.opts...)
			if c.MaxDeliver != tc.want {
				t.Errorf("MaxDeliver = %d; want %d", c.MaxDeliver, tc.want)
			}
			if c.Durable != "d" || c.AckPolicy != jetstream.AckExplicitPolicy {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestStreamConfigsRawMaxBytes(t *testing.T) {
	tests := []struct {
		name         string
		raw, other   int64
		wantRaw      int64
		wantOtherMax int64
	}{
		{"defaults", 0, 0, bus.DefaultRawMaxBytes, -1},
		{"sized", 1 << 30, 2 << 30, 1 << 30, 2 << 30},
		{"raw unlimited", -1, 0, -1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := bus.DefaultStreamOptions()
			o.RawMaxBytes, o.MaxBytes = tc.raw, tc.other
			for _, c := range bus.StreamConfigs(o) {
				want := tc.wantOtherMax
				if c.Name == bus.StreamRaw {
					want = tc.wantRaw
				}
				if c.MaxBytes != want {
					t.Errorf("%s MaxBytes = %d; want %d", c.Name, c.MaxBytes, want)
				}
				if c.Discard != jetstream.DiscardNew {
					t.Errorf("%s Discard = %v; want DiscardNew", c.Name, c.Discard)
				}
			}
		})
	}
}

// TestConsumeMaxDeliverDeadLetters: a message whose handler always fails
// (not classified as poison) is delivered MaxDeliver times, then ends in
// C981_DLQ with the reason of its last failure and is terminated; with
// MaxAckPending 1 the messages behind it are processed only because it no
// longer blocks the consumer.
func TestConsumeMaxDeliverDeadLetters(t *testing.T) {
	const maxDeliver = 3
	env := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subj := bus.EventsSubject("s")
	payloads := []string{"before", "always-fails", "after-1", "after-2"}
	for _, p := range payloads {
		if err := bus.Publish(ctx, env.JS, subj, p, 1, []byte(p)); err != nil {
			t.Fatalf("publish %s: %v", p, err)
		}
	}
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamEvents,
		bus.ConsumerConfig("maxdeliver", 1, 5*time.Second, bus.WithMaxDeliver(maxDeliver)))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		order  []string
		finals int
	)
	allDone := make(chan struct{})
	h := func(_ context.Context, m jetstream.Msg) error {
		p := string(m.Data())
		mu.Lock()
		defer mu.Unlock()
		seen[p]++
		order = append(order, p)
		if p == "always-fails" {
			return errors.New("downstream refuses this record")
		}
		if p == "after-2" {
			close(allDone)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		errc <- bus.Consume(ctx, env.JS, cons, h, bus.ConsumeOptions{
			Stage: "test", RetryDelay: 10 * time.Millisecond,
			OnFinal: func(jetstream.Msg, error) { mu.Lock(); finals++; mu.Unlock() },
		})
	}()
	select {
	case <-allDone:
	case <-time.After(15 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("messages behind the failing one were not processed; deliveries %v", order)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer not drained: pending=%d ack_pending=%d redelivered=%d", info.NumPending, info.NumAckPending, info.NumRedelivered)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Consume returned %v", err)
	}
	mu.Lock()
	want := map[string]int{"before": 1, "always-fails": maxDeliver, "after-1": 1, "after-2": 1}
	for p, n := range want {
		if seen[p] != n {
			t.Errorf("%s delivered %d times; want %d (order %v)", p, seen[p], n, order)
		}
	}
	if finals != 1 {
		t.Errorf("OnFinal called %d times; want 1", finals)
	}
	mu.Unlock()

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
	if len(dls) != 1 {
		t.Fatalf("dead letters = %+v; want 1", dls)
	}
	d := dls[0]
	if d.Payload != "always-fails" || d.Stage != "test" || !strings.Contains(d.Reason, "downstream refuses this record") ||
		!strings.Contains(d.Reason, "delivery 3 of at most 3") || !strings.HasPrefix(d.Position, bus.StreamEvents+" seq ") {
		t.Errorf("dead letter = %+v", d)
	}
	if _, err := dlq.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Error("more than one dead letter")
	}
}
