package correlate

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// plantBatch is 1000 enriched events of the demo plant as the plant load
// profile sends them: routine Modbus polls of the controllers from the
// HMI, engineering workstation reads and historian replication, none of
// which matches a rule, and two suspicious events (0.2 %): a historian
// write to a PLC (OT-007) and a controller write to the SIS (OT-003,
// OT-007). Every event carries the strings enrich writes (about 1.6 KB
// per event encoded, as in the end-to-end runs).
func plantBatch() []event.Event {
	evs := make([]event.Event, 1000)
	for i := range evs {
		id := "p" + strconv.Itoa(i)
		at := time.Duration(i) * 20 * time.Microsecond
		switch {
		case i == 313:
			evs[i] = flow(id, at, hist, plc101, "write", false)
		case i == 787:
			evs[i] = flow(id, at, plc101, sis01, "write", false)
		case i%10 == 3:
			evs[i] = flow(id, at, ews, plc101, "read", true)
		case i%10 == 7:
			evs[i] = flow(id, at, hist, hist, "", true)
		default:
			evs[i] = flow(id, at, hmi, plc101, "read", true)
		}
		decorate(&evs[i], i)
	}
	return evs
}

// decorate sets the strings of the i-th event that the parser and enrich
// add besides the correlated fields, so that a message has the size of an
// enriched message of the end-to-end runs.
func decorate(ev *event.Event, i int) {
	ev.Source, ev.Format, ev.Transport, ev.Peer = "syslog-tcp", "cef", "tcp", "10.20.0.5:40112"
	ev.TimeRaw, ev.ProcID, ev.MsgID, ev.Vendor, ev.Product = "Nov 26 10:00:02", "412", "FLOW", "Acme", "FW-9"
	ev.SignatureID, ev.Signature, ev.Category, ev.Outcome = "2001", "modbus session", "network", "success"
	ev.SrcMAC, ev.DstMAC, ev.Session = "00:11:22:33:44:55", "66:77:88:99:aa:bb", "s-"+strconv.Itoa(i)
	ev.Message = "modbus " + ev.Operation + " from " + ev.SrcIP + " to " + ev.DstIP
	ev.Raw = "<134>Nov 26 10:00:02 fw-cell-01 fw[412]: CEF:0|Acme|FW-9|1.0|2001|" + ev.Message
	ev.Fields = map[string]string{"rule": "r" + strconv.Itoa(i%7), "iface": "eth1"}
}

// BenchmarkCorrelateService runs the correlate Service (OT rule pack,
// incident and state buckets, ordered pipeline) on an in-process
// JetStream server under a sustained load of plant-like messages
// (plantBatch: 1000 enriched events, 0.2 % of them raising alerts, event
// time advancing with the send rate) published to C981_EVENTS, one message
// per iteration. rate=50k paces the publisher at 50,000 events/s (#9's
// latency target); rate=max publishes as fast as it can. env=alone gives
// the service a connection and the CPUs to itself; env=shared is the
// all-in-one deployment (`c981 run`) flat out: the service shares one
// in-process connection with the publisher (enrich) and with a second
// durable consumer of C981_EVENTS that acknowledges every message (store),
// and two goroutines encode batches without pause (the CPU and garbage of
// the other stages), so every goroutine of the service waits for a CPU
// each time it wakes up.
//
// It reports events/s (from the first publication to the acknowledgement
// of the last message) and the lag from an input message's publication to
// the PubAck of its alerts (the alert message's store time in
// C981_ALERTS), p50 and p99 in milliseconds. Use -benchtime 400x or more:
// at 50k/s an iteration is 20 ms.
func BenchmarkCorrelateService(b *testing.B) {
	for _, rate := range []int{50_000, 0} {
		for _, env := range []string{"alone", "shared"} {
			name := "rate=max"
			if rate > 0 {
				name = "rate=" + strconv.Itoa(rate/1000) + "k"
			}
			b.Run(name+"/env="+env, func(b *testing.B) {
				benchCorrelateService(b, rate, env == "shared", Config{})
			})
		}
	}
}

// benchCorrelateService is one BenchmarkCorrelateService case; cfg's
// zero fields take the service defaults.
func benchCorrelateService(b *testing.B, rate int, shared bool, cfg Config) {
	env := bustest.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connect := func(name string) jetstream.JetStream {
		nc, js, err := bus.Connect(env.URL, name, nats.InProcessServer(env.Server))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return js
	}
	svcJS, pubJS := connect("correlate"), connect("publisher")
	if shared {
		pubJS = svcJS
		startAcker(ctx, b, svcJS, "bench-store")
		var wg sync.WaitGroup
		defer wg.Wait()
		for range 2 {
			wg.Go(func() { churn(ctx) })
		}
	}
	lags := watchAlerts(ctx, b, connect("observer"))

	cfg.RulesDir, cfg.ReloadInterval = packDir, -1
	svc, err := New(cfg, Deps{JS: svcJS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	base := plantBatch()
	batch := make([]event.Event, len(base))
	// Event time advances as fast as the events are sent.
	step := 20 * time.Millisecond
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(len(base)) / float64(rate))
		step = interval
	}
	var futures []jetstream.PubAckFuture
	n := 0
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
		suffix := "-" + strconv.Itoa(n)
		for i := range base {
			batch[i] = base[i]
			batch[i].ID = base[i].ID + suffix
			batch[i].Time = base[i].Time.Add(time.Duration(n) * step)
			batch[i].ReceivedAt = batch[i].Time
		}
		data, err := event.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		msg := &nats.Msg{Subject: bus.EventsSubject("demo-plant"), Data: data, Header: nats.Header{}}
		msg.Header.Set(bus.HeaderEncoding, event.Encoding)
		msg.Header.Set(bus.HeaderCount, strconv.Itoa(len(batch)))
		lags.sent(uint64(n+1), time.Now())
		f, err := pubJS.PublishMsgAsync(msg, jetstream.WithMsgID("bench"+suffix))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
		n++
	}
	// The stream is new and has one publisher: message n is stream
	// sequence n+1, which the alerts' message ids name.
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Sequence != uint64(i+1) {
				b.Fatalf("message %d stored as sequence %d", i, ack.Sequence)
			}
		case err := <-f.Err():
			b.Fatalf("publish message %d: %v", i, err)
		}
	}
	cons, err := svcJS.Consumer(ctx, bus.StreamEvents, bus.ConsumerCorrelate)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5*time.Minute + time.Duration(n)*time.Second)
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.AckFloor.Stream >= uint64(n) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the correlator did not acknowledge %d messages in time", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := lags.wait(b, n)
	b.ReportMetric(float64(n*len(base))/elapsed.Seconds(), "events/s")
	b.ReportMetric(percentile(got, 0.50), "lag-p50-ms")
	b.ReportMetric(percentile(got, 0.99), "lag-p99-ms")
}

// churn encodes and decodes batches of events until ctx ends: CPU and
// garbage as the other stages of `c981 run` make them.
func churn(ctx context.Context) {
	evs := plantBatch()[:250]
	var buf []event.Event
	for ctx.Err() == nil {
		data, err := event.Marshal(evs)
		if err != nil {
			panic(err)
		}
		if buf, err = event.UnmarshalEventsShared(data, buf[:0]); err != nil {
			panic(err)
		}
	}
}

// startAcker consumes C981_EVENTS with another durable on js and
// acknowledges every message, as the store stage does in `c981 run`.
func startAcker(ctx context.Context, b *testing.B, js jetstream.JetStream, durable string) {
	b.Helper()
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig(durable, 64, time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { _ = m.Ack() }, jetstream.PullMaxMessagesWithBytesLimit(64, bus.PullBytes(0, 0)))
	if err != nil {
		b.Fatal(err)
	}
	context.AfterFunc(ctx, cc.Stop)
}

// alertLags collects, per input message, the lag from its publication to
// the store time of its alerts.
type alertLags struct {
	mu     sync.Mutex
	sentAt map[uint64]time.Time
	lag    map[uint64]float64 // input stream sequence -> milliseconds
	err    error
}

// watchAlerts follows C981_ALERTS with an ordered consumer on js.
func watchAlerts(ctx context.Context, b *testing.B, js jetstream.JetStream) *alertLags {
	b.Helper()
	l := &alertLags{sentAt: map[uint64]time.Time{}, lag: map[uint64]float64{}}
	cons, err := js.OrderedConsumer(ctx, bus.StreamAlerts, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			l.fail(err)
			return
		}
		// Message ids are "C981_EVENTS:<input sequence>:alerts".
		parts := strings.Split(m.Headers().Get(jetstream.MsgIDHeader), ":")
		if len(parts) != 3 {
			return
		}
		seq, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil {
			l.fail(err)
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if at, ok := l.sentAt[seq]; ok {
			if _, dup := l.lag[seq]; !dup {
				l.lag[seq] = float64(md.Timestamp.Sub(at)) / float64(time.Millisecond)
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	context.AfterFunc(ctx, cc.Stop)
	return l
}

func (l *alertLags) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// sent records when the message of stream sequence seq was published.
func (l *alertLags) sent(seq uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sentAt[seq] = at
}

// wait returns the lags once the alerts of n messages were seen.
func (l *alertLags) wait(b *testing.B, n int) []float64 {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		l.mu.Lock()
		got, err := len(l.lag), l.err
		var out []float64
		if got >= n {
			for _, v := range l.lag {
				out = append(out, v)
			}
		}
		l.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		if got >= n {
			return out
		}
		if time.Now().After(deadline) {
			b.Fatalf("alerts of %d of %d messages seen", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// percentile returns the p-quantile (0..1, nearest rank) of vs.
func percentile(vs []float64, p float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestPlantBatchAlerts checks the load of BenchmarkCorrelateService: every
// message raises alerts (so every message's lag is measured) from 0.2 % of
// its events.
func TestPlantBatchAlerts(t *testing.T) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	alerts, _, err := eng.Process(context.Background(), plantBatch())
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]bool{}
	for _, a := range alerts {
		for _, id := range a.EventIDs {
			events[id] = true
		}
	}
	if len(events) != 2 || !events["p313"] || !events["p787"] {
		t.Errorf("alerts %d naming events %v, want alerts of p313 and p787 only", len(alerts), events)
	}
}
