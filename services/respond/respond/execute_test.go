package respond

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// TestServiceExecutesAndAudits runs the stage with executors (a signed
// webhook on an httptest server, the site-local gateway on the embedded
// NATS) and the audit chain, then replays every incident message: the
// allowed automatic steps ran exactly once, nothing else ran, and the
// audit chain holds one decision record per step and verifies.
func TestServiceExecutesAndAudits(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	const secret = "hook-secret"
	var mu sync.Mutex
	hooks := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !executor.Verify(secret, r.Header.Get(executor.HeaderTimestamp), body, r.Header.Get(executor.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		hooks[r.Header.Get(executor.HeaderIdempotency)]++
		mu.Unlock()
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	m, err := site.Load("../../../deploy/demo/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var applied atomic.Int32
	gw := executor.NewGateway("demo-plant", m, func(context.Context, executor.Job) error { applied.Add(1); return nil })
	sub, err := gw.Subscribe(env.NC)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	t.Setenv("C981_TEST_HOOK_SECRET", secret)
	cfg := Config{
		PlaybooksDir: packDir, RetryDelay: 50 * time.Millisecond, Sites: []string{"../../../deploy/demo/site.yaml"}, Audit: true,
		Execute: &ExecuteConfig{
			Notify:  &executor.WebhookConfig{URL: srv.URL + "/notify", SecretEnv: "C981_TEST_HOOK_SECRET", AllowedHosts: []string{u.Host}},
			Ticket:  &executor.WebhookConfig{URL: srv.URL + "/ticket", SecretEnv: "C981_TEST_HOOK_SECRET", AllowedHosts: []string{u.Host}},
			Gateway: true,
		},
	}
	inc := readIncident(t, "PB-OT-03/into-control-zone")
	if err := bus.PublishRecords(ctx, env.JS, bus.IncidentsSubject("demo-plant"), "corr-1", []event.Incident{inc}); err != nil {
		t.Fatal(err)
	}
	// The steps that may run: allowed, automatic, with an executor.
	planner := loadPlanner(t).WithSites(m)
	plans := planner.Plan(inc, fixtureNow)
	wantHooks, wantGateway, steps := 0, 0, 0
	for _, p := range plans {
		for _, st := range p.Steps {
			steps++
			if st.Decision != event.DecisionAllowed || !st.Automatic {
				continue
			}
			switch st.Action {
			case "notify", "open_ticket", "open_isms_incident":
				wantHooks++
			case "block_at_idmz_firewall", "terminate_remote_session", "disable_remote_account":
				wantGateway++
			}
		}
	}
	if wantHooks == 0 || wantGateway != 1 {
		t.Fatalf("fixture: %d webhook steps, %d gateway steps", wantHooks, wantGateway)
	}
	log, err := audit.OpenLog(ctx, env.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	var chainLen int
	for round := range 2 {
		run := func() {
			svc, err := New(cfg, Deps{JS: env.JS, Registry: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc.Run(rctx) }()
			waitFor(t, "incident acknowledged", func() bool {
				c, err := env.JS.Consumer(ctx, bus.StreamIncidents, bus.ConsumerRespond)
				if err != nil {
					return false
				}
				ci, err := c.Info(ctx)
				return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream >= 1
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		run()
		mu.Lock()
		total := 0
		for key, n := range hooks {
			if n != 1 {
				t.Errorf("round %d: webhook key %s delivered %d times", round, key, n)
			}
			total += n
		}
		mu.Unlock()
		if total != wantHooks || int(applied.Load()) != wantGateway {
			t.Fatalf("round %d: %d webhooks (want %d), %d gateway actions (want %d)", round, total, wantHooks, applied.Load(), wantGateway)
		}
		recs, err := log.Read(ctx, "demo-plant")
		if err != nil {
			t.Fatal(err)
		}
		if b := audit.Verify(recs); b != nil {
			t.Fatalf("round %d: %v", round, b)
		}
		decisions := 0
		for _, r := range recs {
			if r.Kind == audit.KindDecision {
				decisions++
			}
		}
		if decisions != steps {
			t.Fatalf("round %d: %d decision records for %d steps", round, decisions, steps)
		}
		if round == 1 && len(recs) != chainLen+countDuplicates(recs) {
			t.Fatalf("redelivery changed the chain from %d to %d records", chainLen, len(recs))
		}
		chainLen = len(recs)
		// Replay every incident message with a fresh consumer.
		if err := env.JS.DeleteConsumer(ctx, bus.StreamIncidents, bus.ConsumerRespond); err != nil {
			t.Fatal(err)
		}
	}
}

// countDuplicates counts the action records that say a step was a
// duplicate (a redelivery records that it did not run the step again).
func countDuplicates(recs []audit.Record) int {
	n := 0
	for _, r := range recs {
		if r.Kind == audit.KindAction && r.Result == executor.StatusDuplicate {
			n++
		}
	}
	return n
}
