package respond

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
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

func readIncident(t testing.TB, rel string) event.Incident {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir, rel, "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	var inc event.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		t.Fatalf("decode %s: %v", rel, err)
	}
	return inc
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

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream %s seq %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// startService runs a respond service until the test ends or stop is
// called; stop waits for Run to return and fails the test on an error.
func startService(t *testing.T, js jetstream.JetStream, reg *prometheus.Registry) (stop func()) {
	t.Helper()
	svc, err := New(Config{PlaybooksDir: packDir, RetryDelay: 50 * time.Millisecond}, Deps{JS: js, Registry: reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestServiceIntegration(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	stop := startService(t, env.JS, reg)

	good := readIncident(t, "PB-OT-01")
	bad := readIncident(t, "PB-OT-00")
	bad.ID = ""
	subject := bus.IncidentsSubject("demo-plant")
	if err := bus.PublishRecords(ctx, env.JS, subject, "corr-1", []event.Incident{good, bad}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, env.JS, subject, "corr-2", 1, []byte("\xc1 not msgpack")); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "plans and dead letters", func() bool {
		return len(streamMsgs(t, env.JS, bus.StreamActions)) >= 1 && len(streamMsgs(t, env.JS, bus.StreamDLQ)) >= 2
	})
	waitFor(t, "all incident messages acknowledged", func() bool {
		info, err := env.JS.Consumer(ctx, bus.StreamIncidents, bus.ConsumerRespond)
		if err != nil {
			return false
		}
		ci, err := info.Info(ctx)
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	})

	actions := streamMsgs(t, env.JS, bus.StreamActions)
	if len(actions) != 1 {
		t.Fatalf("actions stream has %d messages, want 1", len(actions))
	}
	am := actions[0]
	if am.Subject != bus.ActionsSubject("demo-plant") {
		t.Errorf("plans subject = %s", am.Subject)
	}
	if got := am.Header.Get(nats.MsgIdHdr); got != bus.StreamIncidents+":1:plans" {
		t.Errorf("plans msg id = %q", got)
	}
	var plans []event.Plan
	if err := event.Unmarshal(am.Data, &plans); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range plans {
		ids = append(ids, p.PlaybookID)
		if want := event.NewID("plan", good.ID, "2", p.PlaybookID); p.ID != want {
			t.Errorf("plan %s id = %s, want %s", p.PlaybookID, p.ID, want)
		}
		if p.IncidentID != good.ID || p.IncidentVersion != 2 || p.Site != "demo-plant" {
			t.Errorf("plan %s header = %+v", p.PlaybookID, p)
		}
	}
	if !slices.Equal(ids, []string{"PB-OT-01", "PB-OT-00"}) {
		t.Errorf("plans = %v", ids)
	}

	var reasons []string
	for _, m := range streamMsgs(t, env.JS, bus.StreamDLQ) {
		if m.Subject != bus.DLQSubject(bus.StageRespond) {
			t.Errorf("dead letter on %s", m.Subject)
		}
		var dls []event.DeadLetter
		if err := event.Unmarshal(m.Data, &dls); err != nil {
			t.Fatal(err)
		}
		for _, dl := range dls {
			reasons = append(reasons, dl.Reason)
		}
	}
	slices.Sort(reasons)
	if len(reasons) != 2 || !strings.HasPrefix(reasons[1], "poison message: decode incidents") || reasons[0] != "invalid incident: incident id is empty" {
		t.Errorf("dead-letter reasons = %q", reasons)
	}

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"incidents planned", metricValue(t, reg, "c981_respond_incidents_total", "planned"), 1},
		{"incidents invalid", metricValue(t, reg, "c981_respond_incidents_total", "invalid"), 1},
		{"poison", metricValue(t, reg, "c981_respond_poison_messages_total", ""), 1},
		{"plans PB-OT-01", metricValue(t, reg, "c981_respond_plans_total", "PB-OT-01"), 1},
		{"decisions needs_approval", metricValue(t, reg, "c981_respond_step_decisions_total", "needs_approval"), 2},
		{"decisions allowed", metricValue(t, reg, "c981_respond_step_decisions_total", "allowed"), 8},
	} {
		if c.got != c.want {
			t.Errorf("metric %s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// Redelivery: a fresh consumer replays every incident message; the plans
	// and dead letters carry the same message ids and are deduplicated.
	stop()
	if err := env.JS.DeleteConsumer(ctx, bus.StreamIncidents, bus.ConsumerRespond); err != nil {
		t.Fatal(err)
	}
	startService(t, env.JS, prometheus.NewRegistry())
	waitFor(t, "replayed incident messages acknowledged", func() bool {
		c, err := env.JS.Consumer(ctx, bus.StreamIncidents, bus.ConsumerRespond)
		if err != nil {
			return false
		}
		ci, err := c.Info(ctx)
		return err == nil && ci.Delivered.Stream == 2 && ci.NumPending == 0 && ci.NumAckPending == 0
	})
	if n := len(streamMsgs(t, env.JS, bus.StreamActions)); n != 1 {
		t.Errorf("after replay the actions stream has %d messages, want 1", n)
	}
	if n := len(streamMsgs(t, env.JS, bus.StreamDLQ)); n != 2 {
		t.Errorf("after replay the DLQ has %d messages, want 2", n)
	}
}

// metricValue returns the counter value of the sample of family name whose
// (single) label has the value label; "" selects the unlabelled sample.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
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
			lv := ""
			if len(m.GetLabel()) > 0 {
				lv = m.GetLabel()[0].GetValue()
			}
			if lv == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestNewErrors(t *testing.T) {
	env := bustest.Start(t)
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("playbooks:\n  - id: PB-1\n    title: t\n    applies_to: 'nope'\n    steps: [{id: s, kind: guidance, text: t}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"no playbooks dir", Config{}, Deps{JS: env.JS}, "playbooks_dir is required"},
		{"no jetstream", Config{PlaybooksDir: packDir}, Deps{}, "Deps.JS is required"},
		{"bad playbook", Config{PlaybooksDir: bad}, Deps{JS: env.JS}, "x.yaml:4: playbook PB-1: applies_to: unknown name nope"},
		{"negative ack wait", Config{PlaybooksDir: packDir, AckWait: -time.Second}, Deps{JS: env.JS}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.deps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Registering the metrics twice on one registry is an error, not a panic.
	reg := prometheus.NewRegistry()
	if _, err := New(Config{PlaybooksDir: packDir}, Deps{JS: env.JS, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{PlaybooksDir: packDir}, Deps{JS: env.JS, Registry: reg}); err == nil || !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		t.Errorf("second New on one registry: %v, want AlreadyRegisteredError", err)
	}
}

// BenchmarkPlan plans the playbook fixture incidents against the real pack.
func BenchmarkPlan(b *testing.B) {
	p := loadPlanner(b)
	var incs []event.Incident
	for _, rel := range []string{"PB-OT-00", "PB-OT-01", "PB-OT-02", "PB-OT-03", "PB-OT-03/into-control-zone"} {
		incs = append(incs, readIncident(b, rel))
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, inc := range incs {
			if len(p.Plan(inc, fixtureNow)) == 0 {
				b.Fatal("no plans")
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "incidents/s")
}
