package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestStagesDistributed runs enrich, correlate and respond as separate
// single-stage runs against one external JetStream — the distributed
// deployment — and checks that a raw SIS write becomes a plan.
func TestStageCheckStreamsOnly(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	cfg := Default()
	cfg.NATS.URL = env.URL
	cfg.NATS.CheckStreamsOnly = true
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.Enrich.Sites = []string{repo + "/deploy/demo/site.yaml"}
	// With the streams missing, the stage refuses to start instead of creating them.
	if err := env.JS.DeleteStream(ctx, bus.StreamRaw); err != nil {
		t.Fatal(err)
	}
	err := RunStage(ctx, "enrich", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), bus.StreamRaw) {
		t.Fatalf("RunStage without streams: %v, want an error naming %s", err, bus.StreamRaw)
	}
	if _, err := env.JS.Stream(ctx, bus.StreamRaw); err == nil {
		t.Fatal("a check-only stage created the stream")
	}
}

func TestStagesDistributed(t *testing.T) {
	env := bustest.Start(t)
	cfg := Default()
	cfg.NATS.URL = env.URL
	cfg.Enrich.Sites = []string{repo + "/deploy/demo/site.yaml"}
	cfg.Respond.Sites = cfg.Enrich.Sites
	cfg.Console.Sites = cfg.Enrich.Sites
	cfg.Correlate.RulesDir = repo + "/rules"
	cfg.Respond.PlaybooksDir = repo + "/playbooks"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range []string{"enrich", "correlate", "respond"} {
		c := cfg
		c.MetricsAddr = "127.0.0.1:0"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := RunStage(ctx, name, c, log); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("stage %s: %v", name, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	ts := time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)
	raw := []event.Event{{
		ID: event.NewID("stage-test", "1"), Time: ts, ReceivedAt: ts, Site: "demo-plant", Source: "syslog-tcp",
		Format: "rfc3164", Transport: "tcp", Facility: 16, Severity: 6, Kind: event.KindFlow,
		SrcIP: "10.20.2.21", DstIP: "10.20.9.5", DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: "write",
		Raw: "<134>Nov 26 10:05:00 fw-cell-01 fw: action=allow src=10.20.2.21 dst=10.20.9.5 proto=tcp dport=502 app=modbus op=write",
	}}
	if err := bus.PublishRecords(ctx, env.JS, bus.RawSubject("demo-plant", "syslog-tcp"), "stage-test-1", raw); err != nil {
		t.Fatal(err)
	}
	cons, err := env.JS.OrderedConsumer(ctx, bus.StreamActions, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no plan on %s: %v", bus.StreamActions, err)
	}
	var plans []event.Plan
	if err := event.Unmarshal(msg.Data(), &plans); err != nil {
		t.Fatal(err)
	}
	var sis bool
	for _, p := range plans {
		if p.PlaybookID == "PB-OT-02" {
			sis = true
		}
		for _, s := range p.Steps {
			if s.Class != event.ClassPassive && s.Decision == event.DecisionAllowed {
				t.Errorf("%s/%s: %s step allowed on a safety system", p.PlaybookID, s.ID, s.Class)
			}
		}
	}
	if !sis {
		t.Fatalf("plans %+v do not include the safety playbook PB-OT-02", plans)
	}
}
