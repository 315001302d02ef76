package correlate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// pairRule alerts on the second write of one source within a minute: which
// event triggers it (and so the alert id) depends on the order the events
// are applied in.
const pairRule = `rules:
  - id: T-PAIR
    title: Two writes from one source
    description: Two writes from one source within a minute.
    severity: high
    kind: threshold
    condition: operation == "write"
    group_by: [src_ip]
    threshold: 2
    window: 1m
`

// startCorrelator runs a correlator on rulesDir with the given consumer
// settings and returns a stop function that waits for Run to return.
func startCorrelator(t *testing.T, js jetstream.JetStream, rulesDir string, cfg Config) func() {
	t.Helper()
	cfg.RulesDir = rulesDir
	svc, err := New(cfg, Deps{JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	}
}

// TestRedeliveryKeepsStreamOrder simulates a correlator that took the
// first message and died before acknowledging it: its successor must apply
// that message (redelivered after AckWait) before the later ones, so that
// it raises the alerts of an uninterrupted run. With more than one
// unacknowledged message allowed the successor applies messages 2 and 3
// first: the pair completes on e3 instead of e2, and the redelivered e1 is
// then skipped as already applied (the fault matrix's "kill correlate"
// lost alerts this way).
func TestRedeliveryKeepsStreamOrder(t *testing.T) {
	rulesDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rulesDir, "pair.yaml"), []byte(pairRule), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{event.NewID("alert", "T-PAIR", "e2")}
	cases := []struct {
		name          string
		maxAckPending int // 0: the default
		want          []string
	}{
		{name: "default in-order consumer", want: want},
		// Documents why the default is 1: a pipelining consumer raises
		// another alert after the same fault.
		{name: "pipelining consumer", maxAckPending: 100, want: []string{event.NewID("alert", "T-PAIR", "e3")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := bustest.Start(t)
			js := env.JS
			ctx := context.Background()
			// AckWait leaves the successor ample time to start before message
			// 1 comes back, even on a loaded machine.
			cfg := Config{AckWait: 3 * time.Second, RetryDelay: 50 * time.Millisecond, MaxAckPending: tc.maxAckPending, ReloadInterval: -1}
			d := cfg.WithDefaults()
			for i, id := range []string{"e1", "e2", "e3"} {
				publishEvents(t, js, "in-"+id, []event.Event{flow(id, time.Duration(i)*time.Second, hist, plc101, "write", false)})
			}
			// The dead incarnation: it fetched message 1 and never
			// acknowledged it.
			cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig(bus.ConsumerCorrelate, d.MaxAckPending, d.AckWait))
			if err != nil {
				t.Fatal(err)
			}
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for range batch.Messages() {
				n++
			}
			if n != 1 {
				t.Fatalf("dead incarnation fetched %d messages, want 1", n)
			}

			stop := startCorrelator(t, js, rulesDir, cfg)
			defer stop()
			waitFor(t, "every message acknowledged", func() bool {
				info, err := cons.Info(ctx)
				return err == nil && info.AckFloor.Stream == 3 && info.NumAckPending == 0
			})
			var got []string
			for _, a := range readStream[event.Alert](t, js, bus.StreamAlerts) {
				if a.RuleID == "T-PAIR" && !slices.Contains(got, a.ID) {
					got = append(got, a.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("alerts = %v, want %v (e1 %s, e2 %s, e3 %s)", got, tc.want,
					event.NewID("alert", "T-PAIR", "e1"), event.NewID("alert", "T-PAIR", "e2"), event.NewID("alert", "T-PAIR", "e3"))
			}
		})
	}
}

// failingState is a JetStream whose checkpoint writes fail while fail is
// set: a correlator using it publishes a message's alerts and incidents
// and then cannot checkpoint, like one killed between the two.
type failingState struct {
	jetstream.JetStream
	fail atomic.Bool
}

func (f *failingState) PublishAsync(subject string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if f.fail.Load() && strings.HasPrefix(subject, "$KV."+DefaultStateBucket+".") {
		return nil, errors.New("injected: checkpoint lost")
	}
	return f.JetStream.PublishAsync(subject, data, opts...)
}

// TestCrashBetweenPublishAndCheckpoint runs a correlator that publishes
// the alert and incident of message 2 and dies before its checkpoint; its
// successor restores the checkpoint of message 1, gets message 2 again
// and must raise the same alert (deduplicated by its Nats-Msg-Id) and
// leave the incident as it was, then continue exactly like an
// uninterrupted run.
func TestCrashBetweenPublishAndCheckpoint(t *testing.T) {
	rulesDir := t.TempDir()
	rules := strings.Replace(pairRule, "    window: 1m\n", "    window: 1m\n    suppress: 1s\n", 1)
	if err := os.WriteFile(filepath.Join(rulesDir, "pair.yaml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	env := bustest.Start(t)
	ctx := context.Background()
	cfg := Config{AckWait: time.Second, RetryDelay: 50 * time.Millisecond, ReloadInterval: -1}
	write := func(id string, at time.Duration) {
		publishEvents(t, env.JS, "in-"+id, []event.Event{flow(id, at, hist, plc101, "write", false)})
	}
	acked := func(seq uint64) func() bool {
		return func() bool {
			cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
		}
	}
	pairAlerts := func() []event.Alert {
		var out []event.Alert
		for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
			if a.RuleID == "T-PAIR" {
				out = append(out, a)
			}
		}
		return out
	}

	js := &failingState{JetStream: env.JS}
	stopA := startCorrelator(t, js, rulesDir, cfg)
	write("e1", 0)
	waitFor(t, "message 1 acknowledged", acked(1))
	js.fail.Store(true)
	write("e2", time.Second)
	waitFor(t, "the alert of message 2", func() bool { return len(pairAlerts()) == 1 })
	stopA() // dies with message 2 unacknowledged and its state not checkpointed

	stopB := startCorrelator(t, env.JS, rulesDir, cfg)
	defer stopB()
	waitFor(t, "message 2 acknowledged", acked(2))
	write("e3", 2*time.Second)
	write("e4", 3*time.Second)
	waitFor(t, "message 4 acknowledged", acked(4))

	var got []string
	for _, a := range pairAlerts() {
		got = append(got, a.ID)
	}
	want := []string{event.NewID("alert", "T-PAIR", "e2"), event.NewID("alert", "T-PAIR", "e4")}
	if !slices.Equal(got, want) {
		t.Errorf("published alerts = %v, want %v (each once)", got, want)
	}
	incs := readStream[event.Incident](t, env.JS, bus.StreamIncidents)
	if len(incs) == 0 {
		t.Fatal("no incident published")
	}
	last := incs[len(incs)-1]
	if !slices.Equal(last.AlertIDs, want) || last.Version != 2 {
		t.Errorf("incident version %d alerts %v, want version 2 with %v", last.Version, last.AlertIDs, want)
	}
	for _, inc := range incs {
		if inc.ID != last.ID {
			t.Errorf("incident %s published besides %s", inc.ID, last.ID)
		}
	}
}

// BenchmarkServiceOrdered measures the service end to end on the
// in-process JetStream (decode, rules, incident KV, alert and incident
// publications, checkpoint, ack) for 1000-event messages: every iteration
// publishes 20 messages and waits until the last one is acknowledged. The
// sub-benchmarks compare the in-order consumer (max_ack_pending 1, the
// default) with a pipelining one, which is what ordered redelivery costs.
func BenchmarkServiceOrdered(b *testing.B) {
	const perIter = 20
	for _, pending := range []int{1, 1000} {
		b.Run("max_ack_pending="+strconv.Itoa(pending), func(b *testing.B) {
			env := bustest.Start(b)
			ctx := context.Background()
			svc, err := New(Config{RulesDir: packDir, MaxAckPending: pending, ReloadInterval: -1},
				Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc.Run(runCtx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
			}()
			base := benchBatch()
			batch := make([]event.Event, len(base))
			var seq uint64
			iter := 0
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				for range perIter {
					suffix := "-" + strconv.Itoa(iter)
					shift := time.Duration(iter) * time.Minute
					for i := range base {
						batch[i] = base[i]
						batch[i].ID = base[i].ID + suffix
						batch[i].Time = base[i].Time.Add(shift)
					}
					if err := bus.PublishRecords(ctx, env.JS, bus.EventsSubject("demo-plant"), "bench"+suffix, batch); err != nil {
						b.Fatal(err)
					}
					iter++
					seq++
				}
				for {
					cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
					if err == nil {
						info, err := cons.Info(ctx)
						if err == nil && info.AckFloor.Stream >= seq {
							break
						}
					}
					time.Sleep(time.Millisecond)
				}
			}
			b.ReportMetric(float64(iter*len(base))/time.Since(start).Seconds(), "events/s")
		})
	}
}
