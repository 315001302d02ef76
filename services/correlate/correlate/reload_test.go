package correlate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestEngineReload: a reload keeps the state of unchanged stateful rules
// and drops (and deletes from the checkpoint) the state of changed ones.
func TestEngineReload(t *testing.T) {
	e := newStatefulEngine(t, EngineOptions{})
	feed(t, e,
		flow("w1", 0, ews, plc101, "write", true),
		flow("w2", time.Second, ews, plc101, "write", true),
		flow("s1", 2*time.Second, ews, plc101, "program_upload", true),
	)
	e.TakeCheckpoint()
	changed := strings.Replace(statefulRules, `condition: operation == "write"`, `condition: operation in write_ops`, 1)
	next := loadRules(t, changed)
	kept, dropped := e.Reload(next)
	if e.Rules() != next {
		t.Error("Rules() is not the reloaded set")
	}
	if kept != 3 || dropped != 1 {
		t.Errorf("reload kept %d and dropped %d rules' state, want 3 and 1", kept, dropped)
	}
	if cp := e.TakeCheckpoint(); len(cp.Deleted) != 1 || len(cp.Keys) != 0 {
		t.Errorf("checkpoint after reload: %d deleted, %d changed keys; want the W-THR key deleted", len(cp.Deleted), len(cp.Keys))
	}
	got := alertViews(feed(t, e,
		flow("w3", 3*time.Second, ews, plc101, "write", true),
		flow("s2", 4*time.Second, ews, hist, "", true),
	))
	if len(got) != 1 || got[0].Rule != "W-SEQ" {
		t.Errorf("after reload: %+v, want only W-SEQ (its state was kept; W-THR restarted)", got)
	}
}

// TestServiceRestartAndReload runs the service on a copy of the pack:
// a sequence opened before a restart completes after it (state restored
// from the checkpoint bucket), and a rule-file change is picked up without
// a restart, keeping that state.
func TestServiceRestartAndReload(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ot-core.yaml", "ot-extended.yaml"} {
		data, err := os.ReadFile(filepath.Join(packDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := bustest.Start(t)
	start := func() (*Service, func()) {
		svc, err := New(Config{RulesDir: dir, RetryDelay: 50 * time.Millisecond, ReloadInterval: 20 * time.Millisecond}, Deps{
			JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		return svc, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	outside := event.Endpoint{IP: "203.0.113.9", Role: "unknown", Zone: "unknown", Purdue: -1}
	exfil := func(id string, at time.Duration, src event.Endpoint) event.Event {
		x := flow(id, at, src, outside, "", false)
		x.BytesOut = 5_000_000
		return x
	}
	count := func(rule string) int {
		n := 0
		for _, a := range readStream[event.Alert](t, env.JS, bus.StreamAlerts) {
			if a.RuleID == rule {
				n++
			}
		}
		return n
	}
	acked := func() bool {
		cons, err := env.JS.Consumer(context.Background(), bus.StreamEvents, bus.ConsumerCorrelate)
		if err != nil {
			return false
		}
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}

	_, stop := start()
	publishEvents(t, env.JS, "in-1", []event.Event{flow("up-1", 0, ews, plc101, "program_upload", true)})
	waitFor(t, "the upload to be acknowledged", acked)
	stop()

	svc, stop2 := start()
	defer stop2()
	publishEvents(t, env.JS, "in-2", []event.Event{exfil("x-1", time.Minute, ews)})
	waitFor(t, "the OT-014 alert after the restart", func() bool { return count("OT-014") == 1 })

	// Open a second sequence (from another host: ews is in OT-014's dedup
	// window), then change the rule files: OT-014 is unchanged, so its open
	// sequence survives the reload.
	publishEvents(t, env.JS, "in-3", []event.Event{flow("up-2", 2*time.Hour, hist, plc101, "program_upload", true)})
	waitFor(t, "the second upload to be acknowledged", acked)
	extra := "rules:\n  - id: X-100\n    title: Extra\n    severity: low\n    condition: operation == \"noop\"\n"
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return testutil.ToFloat64(svc.metrics.Reloads.WithLabelValues("ok")) == 1 })
	if _, ok := svc.Rules().Rule("X-100"); !ok {
		t.Fatal("the reloaded rules lack X-100")
	}
	publishEvents(t, env.JS, "in-4", []event.Event{exfil("x-2", 2*time.Hour+time.Minute, hist)})
	waitFor(t, "the OT-014 alert after the reload", func() bool { return count("OT-014") == 2 })

	// A broken rule file is reported and the running rules stay.
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(strings.Replace(extra, `"noop"`, `1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return testutil.ToFloat64(svc.metrics.Reloads.WithLabelValues("error")) == 1 })
	if _, ok := svc.Rules().Rule("X-100"); !ok {
		t.Error("a failed reload replaced the running rules")
	}
	waitFor(t, "all acks", acked)
	if n := count("OT-014"); n != 2 {
		t.Errorf("OT-014 alerts = %d, want 2", n)
	}
}
