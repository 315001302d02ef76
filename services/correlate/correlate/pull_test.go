package correlate

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestServicePullBudget runs the correlator with the smallest pull budget
// (one message of the streams' 8 MiB limit) over batches of very different
// sizes, up to nearly that limit: every one is applied and acknowledged,
// in order, and raises the alerts the engine raises for it on its own (a
// budget below the largest message would stall the consumer on it).
func TestServicePullBudget(t *testing.T) {
	env := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sizes := []int{1 << 10, 3 << 20, 100, 7<<20 + 512<<10, 5 << 20, 1 << 10, 6 << 20, 6 << 20, 200}
	var msgs [][]event.Event
	n := 0
	for i, size := range sizes {
		const perMsg = 4
		pad := strings.Repeat(string(rune('a'+i)), size/perMsg)
		var evs []event.Event
		for range perMsg {
			ev := flow("pb-"+strconv.Itoa(n), time.Duration(n)*time.Second, hist, plc101, "write", false)
			ev.Raw = pad
			evs = append(evs, ev)
			n++
		}
		msgs = append(msgs, evs)
		if err := bus.PublishRecords(ctx, env.JS, bus.EventsSubject("demo-plant"), "pb-"+strconv.Itoa(i), evs); err != nil {
			t.Fatalf("publish message %d (%d bytes of raw text): %v", i, size, err)
		}
	}
	// What the engine raises for the same messages, in stream order.
	ref, _ := newTestEngine(t, NewMemoryStore())
	var want []string
	for i, evs := range msgs {
		as, _, err := ref.ProcessAt(ctx, uint64(i+1), evs)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			want = append(want, a.ID)
		}
	}
	if len(want) == 0 {
		t.Fatal("the messages raise no alert")
	}

	svc, err := New(Config{RulesDir: packDir, PullMaxBytes: bus.MinPullBytes, RetryDelay: 50 * time.Millisecond}, Deps{
		JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for {
		cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
		if err == nil {
			info, err := cons.Info(ctx)
			if err == nil && info.AckFloor.Stream == uint64(len(sizes)) && info.NumAckPending == 0 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer stalled: %d messages not acknowledged", len(sizes))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	waitFor(t, "the alerts", func() bool {
		got = got[:0]
		for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
			got = append(got, a.ID)
		}
		return len(got) >= len(want)
	})
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v\nwant (the engine's, in stream order) %v", got, want)
	}
	if got := testutil.ToFloat64(svc.metrics.PoisonMessages); got != 0 {
		t.Errorf("%v poison messages, want 0", got)
	}
}
