package correlate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/shared/event"
)

// readStream decodes every record of every message currently in stream.
func readStream[T any](t *testing.T, js jetstream.JetStream, stream string) []T {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %s seq %d: %v", stream, seq, err)
		}
		var recs []T
		if err := event.Unmarshal(msg.Data, &recs); err != nil {
			t.Fatalf("decode %s seq %d: %v", stream, seq, err)
		}
		out = append(out, recs...)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runService starts a correlator and returns its metrics and a stop
// function that waits for Run to return.
func runService(t *testing.T, js jetstream.JetStream) (*Service, func()) {
	t.Helper()
	svc, err := New(Config{RulesDir: packDir, RetryDelay: 50 * time.Millisecond}, Deps{
		JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stop := func() {
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
	return svc, stop
}

func publishEvents(t *testing.T, js jetstream.JetStream, id string, evs []event.Event) {
	t.Helper()
	if err := bus.PublishRecords(context.Background(), js, bus.EventsSubject("demo-plant"), id, evs); err != nil {
		t.Fatal(err)
	}
}

func TestServiceIntegration(t *testing.T) {
	env := bustest.Start(t)
	js := env.JS
	svc, stop := runService(t, js)

	// Message 1: an SIS write (3 alerts), routine traffic and an event
	// without an id (dead-lettered, neighbours unaffected).
	invalid := flow("", 0, hist, plc101, "write", false)
	publishEvents(t, js, "in-1", []event.Event{
		flow("e1", 0, plc101, sis01, "write", false),
		flow("e2", time.Second, ews, plc101, "read", true),
		invalid,
	})
	// Message 2: not a batch of events at all.
	if err := bus.Publish(context.Background(), js, bus.EventsSubject("demo-plant"), "in-2", 1, []byte("not msgpack")); err != nil {
		t.Fatal(err)
	}
	// Message 3: a later SIS write joins the same incident.
	publishEvents(t, js, "in-3", []event.Event{flow("e3", 10*time.Minute, plc101, sis01, "write", false)})

	waitFor(t, "incident version 2", func() bool { return len(readStream[event.Incident](t, js, bus.StreamIncidents)) == 2 })
	// Alerts and incident versions go to different streams: the incident
	// version may be stored first.
	waitFor(t, "six alerts", func() bool { return len(readStream[event.Alert](t, js, bus.StreamAlerts)) >= 6 })
	alerts := readStream[event.Alert](t, js, bus.StreamAlerts)
	if len(alerts) != 6 {
		t.Fatalf("alerts = %d, want 6", len(alerts))
	}
	incs := readStream[event.Incident](t, js, bus.StreamIncidents)
	if incs[0].ID != incs[1].ID || incs[0].Version != 1 || incs[1].Version != 2 || len(incs[1].AlertIDs) != 6 {
		t.Fatalf("incident versions = %+v", incs)
	}
	if incs[1].Severity != event.SevCritical || !incs[1].Target.Safety {
		t.Errorf("incident severity %s target %+v, want critical safety target", incs[1].Severity, incs[1].Target)
	}
	for _, a := range alerts {
		if a.IncidentID != incs[0].ID {
			t.Errorf("alert %s (%s) in incident %s, want %s", a.ID, a.RuleID, a.IncidentID, incs[0].ID)
		}
	}
	waitFor(t, "two dead letters", func() bool { return len(readStream[event.DeadLetter](t, js, bus.StreamDLQ)) == 2 })
	dls := readStream[event.DeadLetter](t, js, bus.StreamDLQ)
	var reasons []string
	for _, dl := range dls {
		reasons = append(reasons, dl.Reason)
	}
	joined := strings.Join(reasons, " | ")
	if !strings.Contains(joined, "event has no id") || !strings.Contains(joined, "decode events") {
		t.Errorf("dead-letter reasons = %q", joined)
	}
	m := svc.metrics
	if got := testutil.ToFloat64(m.Events); got != 3 {
		t.Errorf("events metric = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.RuleMatches.WithLabelValues("OT-003")); got != 2 {
		t.Errorf("OT-003 matches = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.PoisonMessages); got != 1 {
		t.Errorf("poison metric = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.InvalidEvents); got != 1 {
		t.Errorf("invalid metric = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.Duration); got != 1 {
		t.Errorf("duration histogram series = %d", got)
	}
	// The incident of sis-01 was read from the KV store once (message 1,
	// nothing there yet) and then served by the cache (message 3).
	if hit, miss := testutil.ToFloat64(m.IncidentCache.WithLabelValues("hit")), testutil.ToFloat64(m.IncidentCache.WithLabelValues("miss")); hit != 1 || miss != 1 {
		t.Errorf("incident cache hits %v misses %v, want 1 and 1", hit, miss)
	}
	stop()

	// A restarted correlator continues the incident from the KV store, and
	// events seen before (a replay under a new message id) change nothing.
	svc2, stop2 := runService(t, js)
	defer stop2()
	publishEvents(t, js, "in-4", []event.Event{flow("e1", 0, plc101, sis01, "write", false)})
	publishEvents(t, js, "in-5", []event.Event{flow("e4", 20*time.Minute, plc101, sis01, "write", false)})
	// e4 is 20 minutes after plc-101 was last seen (e2): the absence rule
	// OT-013 opens a second incident, for plc-101.
	sisIncidents := func() []event.Incident {
		var out []event.Incident
		for _, inc := range readStream[event.Incident](t, js, bus.StreamIncidents) {
			if inc.Key == sis01.AssetID {
				out = append(out, inc)
			}
		}
		return out
	}
	waitFor(t, "incident version 3", func() bool { return len(sisIncidents()) == 4 })
	incs = sisIncidents()
	if incs[2].ID != incs[0].ID || incs[2].Version != 2 {
		t.Errorf("replayed events: incident %s v%d, want %s v2 unchanged", incs[2].ID, incs[2].Version, incs[0].ID)
	}
	if incs[3].ID != incs[0].ID || incs[3].Version != 3 || incs[3].AlertCount != 9 || len(incs[3].AlertIDs) != 9 {
		t.Errorf("after restart: incident %s v%d with %d alerts (%d ids), want %s v3 with 9", incs[3].ID, incs[3].Version, incs[3].AlertCount, len(incs[3].AlertIDs), incs[0].ID)
	}
	if got := testutil.ToFloat64(svc2.metrics.IncidentVersions.WithLabelValues(changeUpdated)); got != 1 {
		t.Errorf("updated versions after restart = %v, want 1", got)
	}
	waitFor(t, "the OT-013 incident", func() bool {
		return len(readStream[event.Incident](t, js, bus.StreamIncidents)) == 5
	})
	if last := readStream[event.Incident](t, js, bus.StreamIncidents)[4]; last.Key != plc101.AssetID || last.RuleIDs[0] != "OT-013" {
		t.Errorf("fifth incident version = %s %v, want the OT-013 incident of plc-101", last.Key, last.RuleIDs)
	}
	// Every input message was acknowledged.
	cons, err := js.Consumer(context.Background(), bus.StreamEvents, bus.ConsumerCorrelate)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all acks", func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestNewConfigErrors(t *testing.T) {
	env := bustest.Start(t)
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"no js", Config{RulesDir: packDir}, Deps{}, "Deps.JS is required"},
		{"bad rules dir", Config{RulesDir: t.TempDir()}, Deps{JS: env.JS}, "no *.yaml rule files"},
		{"ttl below window", Config{RulesDir: packDir, IncidentWindow: 48 * time.Hour, Store: KVConfig{TTL: time.Hour}}, Deps{JS: env.JS}, "must exceed incident_window"},
		{"negative window", Config{RulesDir: packDir, IncidentWindow: -time.Minute}, Deps{JS: env.JS}, "incident_window -1m0s must be positive"},
		{"negative cache", Config{RulesDir: packDir, IncidentCache: -1}, Deps{JS: env.JS}, "incident_cache -1 must be positive"},
		{"store concurrency too high", Config{RulesDir: packDir, StoreConcurrency: 5000}, Deps{JS: env.JS}, "store_concurrency 5000 must be 1..1024"},
		{"pull budget below one message", Config{RulesDir: packDir, PullMaxBytes: 1 << 20}, Deps{JS: env.JS}, "pull_max_bytes 1048576 must be at least 8454144 (one message of the streams' 8 MiB limit)"},
		{"negative pull budget", Config{RulesDir: packDir, PullMaxBytes: -1}, Deps{JS: env.JS}, "pull_max_bytes -1 must be at least 8454144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.deps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{RulesDir: packDir}, Deps{JS: env.JS, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	var are prometheus.AlreadyRegisteredError
	if _, err := New(Config{RulesDir: packDir}, Deps{JS: env.JS, Registry: reg}); !errors.As(err, &are) {
		t.Fatalf("second service on one registry: err = %v, want AlreadyRegisteredError", err)
	}
}

func TestConfigYAML(t *testing.T) {
	doc := []byte(`rules_dir: /etc/c981/rules
incident_window: 30m
max_alerts_per_incident: 500
store: {bucket: C981_TEST_INCIDENTS, replicas: 3, ttl: 72h}
store_concurrency: 8
state: {bucket: C981_TEST_STATE}
allowed_lateness: 30s
ack_wait: 1m
pull_max_bytes: 16777216
`)
	var cfg Config
	if err := config.DecodeYAML("correlate.yaml", doc, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	want := Config{RulesDir: "/etc/c981/rules", IncidentWindow: 30 * time.Minute, MaxAlertsPerIncident: 500,
		Store:         KVConfig{Bucket: "C981_TEST_INCIDENTS", Replicas: 3, TTL: 72 * time.Hour},
		IncidentCache: DefaultIncidentCache, StoreConcurrency: 8,
		State:           StateConfig{Bucket: "C981_TEST_STATE", Replicas: 1, TTL: 7 * 24 * time.Hour},
		AllowedLateness: 30 * time.Second, MaxKeys: DefaultMaxKeys, Partitions: PartitionConfig{Count: 1}, ReloadInterval: 10 * time.Second,
		AckWait: time.Minute, MaxAckPending: DefaultMaxAckPending, PullMaxBytes: 16 << 20, RetryDelay: time.Second}
	if cfg != want {
		t.Fatalf("config = %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := (Config{}).WithDefaults(); d.PullMaxBytes != bus.DefaultPullMaxBytes {
		t.Errorf("default pull_max_bytes = %d, want %d", d.PullMaxBytes, bus.DefaultPullMaxBytes)
	}
	cfg.PullMaxBytes = bus.MinPullBytes // one message of the streams' limit is enough
	if err := cfg.Validate(); err != nil {
		t.Errorf("pull_max_bytes %d: %v", cfg.PullMaxBytes, err)
	}
	if err := config.DecodeYAML("correlate.yaml", []byte("rules_dirs: x\n"), &cfg); err == nil || !strings.Contains(err.Error(), "correlate.yaml:1") {
		t.Fatalf("unknown key: err = %v", err)
	}
}
