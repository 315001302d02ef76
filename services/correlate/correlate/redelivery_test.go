package correlate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
	return startCorrelatorWith(t, js, rulesDir, cfg, prometheus.NewRegistry())
}

// startCorrelatorWith is startCorrelator with the metrics in reg.
func startCorrelatorWith(t *testing.T, js jetstream.JetStream, rulesDir string, cfg Config, reg *prometheus.Registry) func() {
	t.Helper()
	cfg.RulesDir = rulesDir
	svc, err := New(cfg, Deps{JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
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
// that message before the later ones, so that it raises the alerts of an
// uninterrupted run, and must not wait for AckWait to get it back (it
// resets its consumer to the first unacknowledged message). A successor
// that applied messages 2 and 3 first would complete the pair on e3
// instead of e2 and then skip the redelivered e1 as already applied (the
// fault matrix's "kill correlate" lost alerts this way); the pipeline
// keeps stream order for any max_ack_pending.
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
		{name: "default pipeline", want: want},
		{name: "one message in flight", maxAckPending: 1, want: want},
		{name: "deep pipeline", maxAckPending: 1000, want: want},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := bustest.Start(t)
			js := env.JS
			ctx := context.Background()
			// Message 1 would come back after AckWait (a minute): the
			// successor must not wait for it.
			cfg := Config{AckWait: time.Minute, RetryDelay: 50 * time.Millisecond, MaxAckPending: tc.maxAckPending, ReloadInterval: -1}
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

			started := time.Now()
			stop := startCorrelator(t, js, rulesDir, cfg)
			defer stop()
			waitFor(t, "every message acknowledged", func() bool {
				info, err := cons.Info(ctx)
				return err == nil && info.AckFloor.Stream == 3 && info.NumAckPending == 0
			})
			if took := time.Since(started); took > 10*time.Second {
				t.Errorf("the successor took %s to apply the unacknowledged message: it waited for AckWait", took)
			}
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
	cfg := Config{AckWait: time.Second, RetryDelay: 50 * time.Millisecond, ReloadInterval: -1}
	write := func(id string, at time.Duration) {
		publishEvents(t, env.JS, "in-"+id, []event.Event{flow(id, at, hist, plc101, "write", false)})
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
	waitFor(t, "message 1 acknowledged", ackedThrough(env.JS, 1))
	js.fail.Store(true)
	write("e2", time.Second)
	waitFor(t, "the alert of message 2", func() bool { return len(pairAlerts()) == 1 })
	stopA() // dies with message 2 unacknowledged and its state not checkpointed

	regB := prometheus.NewRegistry()
	stopB := startCorrelatorWith(t, env.JS, rulesDir, cfg, regB)
	defer stopB()
	waitFor(t, "message 2 acknowledged", ackedThrough(env.JS, 2))
	// The incident key's journal recognised message 2's alert as applied.
	if n, err := testutil.GatherAndCount(regB, "c981_correlate_reapplied_alerts_total"); err != nil || n != 3 {
		t.Fatalf("reapplied alerts series = %d, %v", n, err)
	}
	if got := gatherCounter(t, regB, "c981_correlate_reapplied_alerts_total", reappliedJournal); got != 1 {
		t.Errorf("alerts recognised by the journal after the crash = %v, want 1", got)
	}
	write("e3", 2*time.Second)
	write("e4", 3*time.Second)
	waitFor(t, "message 4 acknowledged", ackedThrough(env.JS, 4))

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
// in-process JetStream with the OT rule pack (decode, rules, incident KV,
// alert and incident publications, checkpoint, ack) draining a backlog of
// 1000-event messages: every iteration pre-publishes 50 messages to
// C981_EVENTS (not timed), then starts the service and waits until the
// last one is acknowledged. It reports events/s, the CPU seconds of the
// whole process (service and in-process server) per million events, the
// share of the drain the process was on a CPU (cpu-util) and the share the
// Go scheduler had nothing to run (go-idle: waiting for round trips). The
// sub-benchmarks cross two event mixes (see benchService) with one message
// in flight and the default pipeline.
func BenchmarkServiceOrdered(b *testing.B) {
	const perIter = 50
	for _, mix := range []string{"ot", "alerts"} {
		for _, pending := range []int{1, 0} {
			name := "mix=" + mix + "/max_ack_pending=" + strconv.Itoa(pending)
			if pending == 0 {
				name = "mix=" + mix + "/default"
			}
			b.Run(name, func(b *testing.B) { benchService(b, mix, pending, perIter) })
		}
	}
}

// benchService is one BenchmarkServiceOrdered case: mix "ot" is benchBatch
// (about one alert per 20 events), "alerts" makes every event a historian
// write to a PLC, which raises an alert (the loadgen mix of the end-to-end
// runs raises about one alert per event).
func benchService(b *testing.B, mix string, pending, perIter int) {
	env := bustest.Start(b)
	ctx := context.Background()
	base := benchBatch()
	if mix == "alerts" {
		for i := range base {
			base[i] = flow(base[i].ID, base[i].Time.Sub(t0), hist, base[i].Dst, "write", false)
		}
	}
	batch := make([]event.Event, len(base))
	var seq uint64
	iter := 0
	var busy, cpu time.Duration
	var idle, total float64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range perIter {
			suffix := repeatBatch(batch, base, iter)
			if err := bus.PublishRecords(ctx, env.JS, bus.EventsSubject("demo-plant"), "bench"+suffix, batch); err != nil {
				b.Fatal(err)
			}
			iter++
			seq++
		}
		svc, err := New(Config{RulesDir: packDir, MaxAckPending: pending, ReloadInterval: -1},
			Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		cpu0 := processCPU(b)
		idle0, total0 := schedCPU()
		start := time.Now()
		b.StartTimer()
		go func() { done <- svc.Run(runCtx) }()
		// Polled every 5 ms: the polling costs the server little
		// CPU, and a drain takes hundreds of milliseconds.
		var cons jetstream.Consumer
		for {
			if cons == nil {
				cons, _ = env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
			}
			if cons != nil {
				info, err := cons.Info(ctx)
				if err == nil && info.AckFloor.Stream >= seq {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		busy += time.Since(start)
		cpu += processCPU(b) - cpu0
		idle1, total1 := schedCPU()
		idle += idle1 - idle0
		total += total1 - total0
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	events := float64(iter * len(base))
	b.ReportMetric(events/busy.Seconds(), "events/s")
	b.ReportMetric(cpu.Seconds()/events*1e6, "cpu-s/Mevents")
	// The share of the drain the process was on a CPU: below 1 with
	// -cpu 1, the rest is waiting (round trips, or other processes
	// on a loaded machine).
	b.ReportMetric(cpu.Seconds()/busy.Seconds(), "cpu-util")
	// The share of the Go scheduler's CPU time (GOMAXPROCS x wall)
	// with nothing to run: waiting for round trips. Unlike
	// cpu-util it does not count time the OS gave to other
	// processes (the Go runtime cannot see it).
	if total > 0 {
		b.ReportMetric(idle/total, "go-idle")
	}
}

// schedCPU returns the Go scheduler's idle and total CPU seconds
// (runtime/metrics /cpu/classes, estimated at each garbage collection:
// one is forced first).
func schedCPU() (idle, total float64) {
	runtime.GC()
	ms := []metrics.Sample{{Name: "/cpu/classes/idle:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(ms)
	return ms[0].Value.Float64(), ms[1].Value.Float64()
}

// processCPU is the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestKilledPipelineResumesAtOnce runs the OT rule pack over 40 messages
// of 1000 events twice: once without fault, and once with a correlator
// whose connection is cut while a pipeline of messages is in flight (a
// SIGKILL as the server sees it: nothing of it is acknowledged any more)
// and a successor started at once. The successor must resume from the
// first unacknowledged message without waiting for AckWait (a minute here)
// and publish exactly the alerts and final incident versions of the
// fault-free run.
func TestKilledPipelineResumesAtOnce(t *testing.T) {
	const messages = 40
	cfg := Config{RulesDir: packDir, AckWait: time.Minute, RetryDelay: 50 * time.Millisecond, ReloadInterval: -1}
	type outcome struct {
		alerts    map[string]string // alert id -> incident id
		incidents map[string]string // incident id -> last version and alert ids
	}
	run := func(t *testing.T, crash bool) outcome {
		env := bustest.Start(t)
		ctx := context.Background()
		base := benchBatch()
		batch := make([]event.Event, len(base))
		for m := range messages {
			for i := range base {
				batch[i] = base[i]
				batch[i].ID = base[i].ID + "-" + strconv.Itoa(m)
				batch[i].Time = base[i].Time.Add(time.Duration(m) * 40 * time.Second)
			}
			publishEvents(t, env.JS, "in-"+strconv.Itoa(m), batch)
		}
		floorAt := func(seq uint64) func() bool {
			return func() bool {
				cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
				if err != nil {
					return false
				}
				info, err := cons.Info(ctx)
				return err == nil && info.AckFloor.Stream >= seq
			}
		}
		var floor uint64
		if crash {
			nc, js, err := bus.Connect(env.URL, "doomed")
			if err != nil {
				t.Fatal(err)
			}
			stop := startCorrelator(t, js, packDir, cfg)
			waitWithin(t, 2*time.Minute, "a third of the messages acknowledged", floorAt(messages/3))
			nc.Close()
			stop()
			cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.AckFloor.Stream >= messages {
				t.Fatalf("every message was acknowledged before the crash: the test proves nothing")
			}
			floor = info.AckFloor.Stream
			t.Logf("crashed at ack floor %d with %d messages unacknowledged", floor, info.NumAckPending)
		}
		started := time.Now()
		stop := startCorrelator(t, env.JS, packDir, cfg)
		defer stop()
		// The first unacknowledged message is applied at once, not after
		// AckWait (a minute); the deadlines leave room for -race.
		waitWithin(t, 30*time.Second, "the first unacknowledged message acknowledged", floorAt(floor+1))
		if took := time.Since(started); took > 20*time.Second {
			t.Errorf("took %s to apply the first unacknowledged message after the restart: it waited for AckWait", took)
		}
		waitWithin(t, 3*time.Minute, "every message acknowledged", ackedThrough(env.JS, messages))
		o := outcome{alerts: map[string]string{}, incidents: map[string]string{}}
		for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
			o.alerts[a.ID] = a.IncidentID
		}
		last := map[string]uint64{}
		for _, inc := range readStream[event.Incident](t, env.JS, bus.StreamIncidents) {
			if inc.Version >= last[inc.ID] {
				last[inc.ID] = inc.Version
				o.incidents[inc.ID] = strconv.FormatUint(inc.Version, 10) + " " + strings.Join(inc.AlertIDs, ",")
			}
		}
		return o
	}
	want := run(t, false)
	if len(want.alerts) == 0 || len(want.incidents) == 0 {
		t.Fatal("the fault-free run raised no alert: the comparison would prove nothing")
	}
	got := run(t, true)
	if !maps.Equal(got.alerts, want.alerts) {
		t.Errorf("alerts after the crash: %d, want %d (or assigned to other incidents)", len(got.alerts), len(want.alerts))
	}
	if !maps.Equal(got.incidents, want.incidents) {
		for id, v := range want.incidents {
			if got.incidents[id] != v {
				t.Errorf("incident %s after the crash:\n got %.200s\nwant %.200s", id, got.incidents[id], v)
			}
		}
		t.Errorf("incidents after the crash: %d, want %d", len(got.incidents), len(want.incidents))
	}
}

// waitWithin is waitFor with its own deadline.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failingAlerts is a JetStream on which publishing an alert batch that
// names the event "bad" always fails, like a message whose outputs can
// never be stored.
type failingAlerts struct {
	jetstream.JetStream
	attempts atomic.Int64
}

func (f *failingAlerts) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if strings.HasPrefix(msg.Subject, "c981.alerts.") && bytes.Contains(msg.Data, []byte("\xa3bad")) {
		f.attempts.Add(1)
		return nil, errors.New("injected: alert publication refused")
	}
	return f.JetStream.PublishMsgAsync(msg, opts...)
}

// TestMessageFailingEveryAttemptIsDeadLettered checks the pipeline's
// retry of a failed message: the messages before it are committed, it is
// retried from the checkpoint (not nak'ed: later messages must not pass
// it), and after MaxDeliver failed attempts it is dead-lettered with the
// reason and terminated, so the next message is applied and the stream is
// not blocked.
func TestMessageFailingEveryAttemptIsDeadLettered(t *testing.T) {
	rulesDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rulesDir, "pair.yaml"), []byte(pairRule), 0o600); err != nil {
		t.Fatal(err)
	}
	env := bustest.Start(t)
	ctx := context.Background()
	js := &failingAlerts{JetStream: env.JS}
	reg := prometheus.NewRegistry()
	svc, err := New(Config{RulesDir: rulesDir, RetryDelay: 10 * time.Millisecond, ReloadInterval: -1},
		Deps{JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	publishEvents(t, env.JS, "in-1", []event.Event{flow("e1", 0, hist, plc101, "write", false)})
	publishEvents(t, env.JS, "in-2", []event.Event{flow("bad", time.Second, hist, plc101, "write", false)})
	publishEvents(t, env.JS, "in-3", []event.Event{flow("e3", 2*time.Second, hist, plc101, "write", false)})
	waitWithin(t, time.Minute, "every message acknowledged or terminated", func() bool {
		cons, err := env.JS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.AckFloor.Stream == 3 && info.NumAckPending == 0
	})
	if got := js.attempts.Load(); got != bus.DefaultMaxDeliver {
		t.Errorf("message 2 was attempted %d times, want %d (MaxDeliver)", got, bus.DefaultMaxDeliver)
	}
	dls := readStream[event.DeadLetter](t, env.JS, bus.StreamDLQ)
	if len(dls) != 1 || dls[0].Position != bus.StreamEvents+" seq 2" || !strings.Contains(dls[0].Reason, "injected") ||
		!strings.Contains(dls[0].Reason, "attempt 10 of at most 10") {
		t.Fatalf("dead letters = %+v, want one for seq 2 with the reason of its last attempt", dls)
	}
	// The pair completes on e1 and e2 ("bad" is applied on each attempt
	// and its alert is refused); after the dead letter the state is that of
	// the checkpoint after message 1, so e3 completes the pair.
	var got []string
	for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
		got = append(got, a.ID)
	}
	if want := []string{event.NewID("alert", "T-PAIR", "e3")}; !slices.Equal(got, want) {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	if n := testutil.ToFloat64(svc.metrics.Restarts.WithLabelValues(restartError)); n != bus.DefaultMaxDeliver {
		t.Errorf("pipeline restarts after errors = %v, want %d", n, bus.DefaultMaxDeliver)
	}
}

// gatherCounter returns the value of the counter family name's sample
// whose single label has value label.
func gatherCounter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no sample %s{%s}", name, label)
	return 0
}

// ackedThrough reports, when called, whether the correlator's consumer has
// acknowledged every message of C981_EVENTS up to seq and holds none
// pending.
func ackedThrough(js jetstream.JetStream, seq uint64) func() bool {
	return func() bool {
		ctx := context.Background()
		cons, err := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.AckFloor.Stream >= seq && info.NumAckPending == 0
	}
}
