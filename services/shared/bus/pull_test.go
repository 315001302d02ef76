package bus_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
)

func TestPullBytes(t *testing.T) {
	tests := []struct {
		name       string
		maxBytes   int
		maxMsgSize int32
		want       int
	}{
		{"default", 0, 0, bus.DefaultPullMaxBytes},
		{"negative is the default", -5, 0, bus.DefaultPullMaxBytes},
		{"below one maximum message is raised", 1 << 20, 0, bus.MinPullBytes},
		{"larger stream limit raises it", 10 << 20, 12 << 20, 12<<20 + bus.PullOverhead},
		{"kept", 64 << 20, 8 << 20, 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bus.PullBytes(tt.maxBytes, tt.maxMsgSize); got != tt.want {
				t.Errorf("PullBytes(%d, %d) = %d, want %d", tt.maxBytes, tt.maxMsgSize, got, tt.want)
			}
		})
	}
}

// TestConsumePullMaxBytes runs Consume with the smallest byte budget over
// messages of very different sizes, up to the streams' 8 MiB limit: every
// one is handled and acknowledged, once, in order (a budget below the
// largest message would stall the consumer on it).
func TestConsumePullMaxBytes(t *testing.T) {
	env := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subj := bus.EventsSubject("s")
	sizes := []int{10, 3 << 20, 100, 8<<20 - 4096, 5 << 20, 1, 6 << 20, 6 << 20, 200}
	for i, n := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i)}, n)
		if err := bus.Publish(ctx, env.JS, subj, "p-"+strconv.Itoa(i), 1, data); err != nil {
			t.Fatalf("publish %d bytes: %v", n, err)
		}
	}
	cons, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig("pull-bytes", 100, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []int
	)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(cctx, env.JS, cons, func(_ context.Context, msg jetstream.Msg) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, len(msg.Data()))
			if len(got) == len(sizes) {
				stop()
			}
			return nil
		}, bus.ConsumeOptions{Stage: "test", PullMaxBytes: 1})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("consumer stalled: handled %d of %d messages", len(got), len(sizes))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(sizes) {
		t.Fatalf("handled %v, want sizes %v", got, sizes)
	}
	for i := range sizes {
		if got[i] != sizes[i] {
			t.Fatalf("message %d: %d bytes, want %d (order %v)", i, got[i], sizes[i], got)
		}
	}
	// Every handled message was acknowledged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.AckFloor.Stream == uint64(len(sizes)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ack pending %d, ack floor %d, want 0 and %d", info.NumAckPending, info.AckFloor.Stream, len(sizes))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
