package enrich

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

const demoSite = "../../../deploy/demo/site.yaml"

var demoTime = time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)

// rawEvent is an event as ingest publishes it: parsed, not enriched.
func rawEvent(id, site, src, dst string, port int, app, op string) event.Event {
	return event.Event{
		ID: id, Time: demoTime, ReceivedAt: demoTime, Site: site, Source: "fw", Format: "rfc3164",
		Transport: "udp", Facility: -1, Severity: -1, Kind: event.KindFlow,
		SrcIP: src, DstIP: dst, Proto: "tcp", DstPort: port, AppProto: app, Operation: op,
		Raw: fmt.Sprintf("src=%s dst=%s dport=%d app=%s op=%s", src, dst, port, app, op),
	}
}

type harness struct {
	env *bustest.Env
	svc *Service
	reg *prometheus.Registry
	ctx context.Context
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	env := bustest.Start(t)
	if cfg.Sites == nil {
		cfg.Sites = []string{demoSite}
	}
	svc, reg, ctx := runWith(t, env.JS, cfg)
	return &harness{env: env, svc: svc, reg: reg, ctx: ctx}
}

// runWith starts the service with cfg (RetryDelay 100 ms unless set) on
// js until the test ends, and returns it, its registry and the context it
// runs under.
func runWith(t *testing.T, js jetstream.JetStream, cfg Config) (*Service, *prometheus.Registry, context.Context) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = 100 * time.Millisecond
	}
	svc, err := New(cfg, Deps{JS: js, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return svc, reg, ctx
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) publishRaw(t *testing.T, site, id string, evs []event.Event) {
	t.Helper()
	if err := bus.PublishRecords(h.ctx, h.env.JS, bus.RawSubject(site, "fw"), id, evs); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) consumer(t *testing.T, stream string, subjects ...string) jetstream.Consumer {
	t.Helper()
	c, err := h.env.JS.OrderedConsumer(h.ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func next(t *testing.T, c jetstream.Consumer) jetstream.Msg {
	t.Helper()
	msg, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	return msg
}

func decode(t *testing.T, msg jetstream.Msg) []event.Event {
	t.Helper()
	evs, err := event.UnmarshalEvents(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Headers().Get(bus.HeaderCount); got != fmt.Sprint(len(evs)) {
		t.Errorf("%s header = %q, batch has %d events", bus.HeaderCount, got, len(evs))
	}
	return evs
}

func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			case m.Histogram != nil:
				total += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return total
}

// TestService drives the stage through a real JetStream server: an enriched
// batch, a garbage payload that is dead-lettered, the next good batch, and a
// batch mixing a modelled and an unmodelled site.
func TestService(t *testing.T) {
	h := start(t, Config{})
	events := h.consumer(t, bus.StreamEvents)
	dlq := h.consumer(t, bus.StreamDLQ, bus.DLQSubject(bus.StageEnrich))

	t.Run("enriched batch", func(t *testing.T) {
		h.publishRaw(t, "demo-plant", "raw-1", []event.Event{
			rawEvent("e1", "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "write"),
			rawEvent("e2", "demo-plant", "10.20.2.21", "10.20.1.12", 44818, "enip", "program_download"),
		})
		msg := next(t, events)
		if msg.Subject() != "c981.events.demo-plant" {
			t.Errorf("subject = %s", msg.Subject())
		}
		if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "C981_RAW:1:events" {
			t.Errorf("msg id = %q, want C981_RAW:1:events", id)
		}
		evs := decode(t, msg)
		if len(evs) != 2 || evs[0].ID != "e1" || evs[1].ID != "e2" {
			t.Fatalf("events = %+v", evs)
		}
		e1, e2 := evs[0], evs[1]
		if e1.Src.AssetID != "demo-plant/hmi-01" || e1.Dst.AssetID != "demo-plant/plc-101" || e1.Dst.Purdue != 1 || e1.Dst.SLT != 3 ||
			!e1.Flow.Allowed || e1.Flow.Conduit != "demo-plant/c-supervisory-control" || e1.Flow.FlowID != "hmi-poll" || e1.ModelVersion != 1 {
			t.Errorf("e1 enrichment: src %+v dst %+v flow %+v version %d", e1.Src, e1.Dst, e1.Flow, e1.ModelVersion)
		}
		if e2.Flow.Allowed || e2.Flow.Violation != "operation program_download requires an open maintenance window" || e2.Maint.Active || e2.Dst.Role != "plc" {
			t.Errorf("e2 enrichment: dst %+v flow %+v maint %+v", e2.Dst, e2.Flow, e2.Maint)
		}
		if e1.Raw != rawEvent("e1", "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "write").Raw {
			t.Errorf("raw not preserved: %q", e1.Raw)
		}
	})

	t.Run("garbage is dead-lettered", func(t *testing.T) {
		garbage := []byte("this is not a msgpack batch")
		if err := bus.Publish(h.ctx, h.env.JS, bus.RawSubject("demo-plant", "fw"), "raw-garbage", 1, garbage); err != nil {
			t.Fatal(err)
		}
		dls := []event.DeadLetter{}
		if err := event.Unmarshal(next(t, dlq).Data(), &dls); err != nil {
			t.Fatal(err)
		}
		if len(dls) != 1 {
			t.Fatalf("%d dead letters", len(dls))
		}
		dl := dls[0]
		if dl.Stage != bus.StageEnrich || dl.Payload != string(garbage) || dl.Position != "C981_RAW seq 2" ||
			!strings.Contains(dl.Reason, "poison message") || !strings.Contains(dl.Reason, "raw batch on c981.raw.demo-plant.fw: decode batch") {
			t.Errorf("dead letter = %+v", dl)
		}
	})

	t.Run("unsupported encoding is dead-lettered", func(t *testing.T) {
		msg := nats.NewMsg(bus.RawSubject("demo-plant", "fw"))
		msg.Data = []byte(`[{"id":"x"}]`)
		msg.Header.Set(bus.HeaderEncoding, "json")
		if _, err := h.env.JS.PublishMsg(h.ctx, msg); err != nil {
			t.Fatal(err)
		}
		dls := []event.DeadLetter{}
		if err := event.Unmarshal(next(t, dlq).Data(), &dls); err != nil {
			t.Fatal(err)
		}
		if len(dls) != 1 || !strings.Contains(dls[0].Reason, `unsupported encoding "json"`) {
			t.Errorf("dead letters = %+v", dls)
		}
	})

	t.Run("next good batch flows", func(t *testing.T) {
		h.publishRaw(t, "demo-plant", "raw-3", []event.Event{
			rawEvent("e3", "demo-plant", "10.20.9.5", "10.20.1.11", 502, "modbus", "read"),
		})
		msg := next(t, events)
		if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "C981_RAW:4:events" {
			t.Errorf("msg id = %q", id)
		}
		evs := decode(t, msg)
		if len(evs) != 1 || evs[0].ID != "e3" || evs[0].Flow.Violation != "conduit demo-plant/c-control-safety is unidirectional from demo-plant/control to demo-plant/safety" {
			t.Errorf("events = %+v", evs)
		}
	})

	t.Run("mixed sites are split by site", func(t *testing.T) {
		h.publishRaw(t, "demo-plant", "raw-4", []event.Event{
			rawEvent("e4", "demo-plant", "10.20.2.99", "10.20.1.11", 502, "modbus", "read"),
			rawEvent("e5", "elsewhere", "10.20.2.11", "10.20.1.11", 502, "modbus", "read"),
			rawEvent("e6", "demo-plant", "192.0.2.1", "10.20.3.10", 5450, "", ""),
		})
		got := map[string][]event.Event{}
		ids := map[string]string{}
		for range 2 {
			msg := next(t, events)
			got[msg.Subject()] = decode(t, msg)
			ids[msg.Subject()] = msg.Headers().Get(jetstream.MsgIDHeader)
		}
		demo, other := got["c981.events.demo-plant"], got["c981.events.elsewhere"]
		if len(demo) != 2 || demo[0].ID != "e4" || demo[1].ID != "e6" || len(other) != 1 || other[0].ID != "e5" {
			t.Fatalf("split = %v", got)
		}
		if ids["c981.events.demo-plant"] != "C981_RAW:5:events:demo-plant" || ids["c981.events.elsewhere"] != "C981_RAW:5:events:elsewhere" {
			t.Errorf("msg ids = %v", ids)
		}
		if demo[0].Src.Known || demo[0].Src.Zone != "demo-plant/supervisory" || demo[1].Src.Zone != "unknown" {
			t.Errorf("unknown addresses: %+v / %+v", demo[0].Src, demo[1].Src)
		}
		o := other[0]
		if o.Src.Zone != "unknown" || o.Dst.Zone != "unknown" || o.Dst.Purdue != -1 || o.Dst.Role != "unknown" || o.Flow.Allowed || o.Flow.NewPair || o.ModelVersion != 0 {
			t.Errorf("unknown site context: src %+v dst %+v flow %+v", o.Src, o.Dst, o.Flow)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// A batch is counted once every publish of its window is
		// acknowledged, which can be after its output reached the test; its
		// duration is recorded last.
		waitAtLeast(t, h.reg, "c981_enrich_batch_duration_seconds", 3)
		tests := []struct {
			name   string
			labels []string
			want   float64
		}{
			{"c981_enrich_batches_total", nil, 3},
			{"c981_enrich_events_total", nil, 6},
			{"c981_enrich_published_messages_total", nil, 4},
			{"c981_enrich_poison_total", nil, 2},
			{"c981_enrich_unknown_site_total", nil, 1},
			// e2 (no window), e3 (unidirectional), e4 (uninventoried source), e6 (source in no zone).
			{"c981_enrich_conduit_violations_total", nil, 4},
			{"c981_enrich_unknown_ip_total", []string{"side", "src", "reason", "not_inventoried"}, 1},
			// e5 has two addresses of an unknown site; e6 one outside every zone.
			{"c981_enrich_unknown_ip_total", []string{"side", "src", "reason", "no_zone"}, 2},
			{"c981_enrich_unknown_ip_total", []string{"side", "dst", "reason", "no_zone"}, 1},
			{"c981_enrich_batch_duration_seconds", nil, 3},
			{"c981_enrich_site_model_version", []string{"site", "demo-plant"}, 1},
			// Five distinct endpoint pairs of demo-plant; e5's site has no
			// model, so no pair memory.
			{"c981_enrich_new_pairs_total", nil, 5},
			{"c981_enrich_new_pair_memory_pairs", nil, 5},
			{"c981_enrich_new_pair_evictions_total", nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name+strings.Join(tt.labels, "_"), func(t *testing.T) {
				if got := metric(t, h.reg, tt.name, tt.labels...); got != tt.want {
					t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
				}
			})
		}
	})
}

// TestSplitLargeBatch checks that an enriched batch above max_batch_bytes is
// published in parts with derived ids, all events in order.
func TestSplitLargeBatch(t *testing.T) {
	h := start(t, Config{MaxBatchBytes: 4096})
	events := h.consumer(t, bus.StreamEvents)
	var in []event.Event
	for i := range 40 {
		in = append(in, rawEvent(fmt.Sprintf("big-%02d", i), "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "read"))
	}
	h.publishRaw(t, "demo-plant", "raw-big", in)
	var got []string
	var ids []string
	for len(got) < len(in) {
		msg := next(t, events)
		if len(msg.Data()) > 4096 {
			t.Errorf("message of %d bytes exceeds max_batch_bytes", len(msg.Data()))
		}
		ids = append(ids, msg.Headers().Get(jetstream.MsgIDHeader))
		for _, ev := range decode(t, msg) {
			got = append(got, ev.ID)
			if !ev.Flow.Allowed {
				t.Errorf("%s not enriched: %+v", ev.ID, ev.Flow)
			}
		}
	}
	if len(ids) < 2 {
		t.Fatalf("batch was not split: ids %v", ids)
	}
	for i, id := range got {
		if id != in[i].ID {
			t.Fatalf("event %d = %s, want %s (order lost)", i, id, in[i].ID)
		}
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "C981_RAW:1:events:") {
			t.Errorf("part id %q does not derive from the input id", id)
		}
	}
}

// TestRedeliveryIdempotent: an instance enriched and published a raw batch
// but its acknowledgement was lost (the durable consumer is recreated, so
// the batch is delivered again from the start); the next instance
// republishes it under the same message ids and the events stream still
// holds it once.
func TestRedeliveryIdempotent(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("demo-plant", "fw"), "raw-1", []event.Event{
		rawEvent("e1", "demo-plant", "10.20.2.11", "10.20.1.11", 502, "modbus", "write"),
	}); err != nil {
		t.Fatal(err)
	}
	eventsHeld := func() uint64 {
		st, err := env.JS.Stream(ctx, bus.StreamEvents)
		if err != nil {
			return 0 // not created yet
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	for i := range 2 {
		t.Run(fmt.Sprintf("instance %d", i+1), func(t *testing.T) {
			if i > 0 {
				if err := env.JS.DeleteConsumer(ctx, bus.StreamRaw, bus.ConsumerEnrich); err != nil {
					t.Fatal(err)
				}
			}
			_, reg := runService(t, env.JS, Config{})
			waitAtLeast(t, reg, "c981_enrich_batches_total", 1)
			if got := metric(t, reg, "c981_enrich_events_total"); got != 1 {
				t.Errorf("instance %d enriched %v events, want 1", i+1, got)
			}
		})
	}
	if n := eventsHeld(); n != 1 {
		t.Errorf("%s holds %d messages after a redelivery, want 1", bus.StreamEvents, n)
	}
}

func TestNewErrors(t *testing.T) {
	env := bustest.Start(t)
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"no sites", Config{}, Deps{JS: env.JS}, "enrich config: sites: at least one site model file is required"},
		{"no jetstream", Config{Sites: []string{demoSite}}, Deps{}, "enrich: Deps.JS is required"},
		{"missing model", Config{Sites: []string{"testdata/missing.yaml"}}, Deps{JS: env.JS}, "enrich: load site model: site model testdata/missing.yaml: stat testdata/missing.yaml: no such file"},
		{"same site twice", Config{Sites: []string{demoSite, demoSite}}, Deps{JS: env.JS}, `enrich: load site model: ../../../deploy/demo/site.yaml: site "demo-plant" is already described by ../../../deploy/demo/site.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.deps)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want prefix %q", err, tt.want)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS, Registry: reg}); err == nil || !strings.Contains(err.Error(), "register enrich metrics") {
		t.Errorf("second New on one registry: %v", err)
	}
}
