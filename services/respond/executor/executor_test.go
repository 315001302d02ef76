package executor

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

const secret = "s3cret"

// hookServer is an httptest webhook receiver that verifies signatures.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	jobs []Job
	bad  atomic.Int32
	code int
	seen map[string]int
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{code: http.StatusOK, seen: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !Verify(secret, r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature)) {
			h.bad.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var j Job
		if err := json.Unmarshal(body, &j); err != nil || j.Key != r.Header.Get(HeaderIdempotency) {
			h.bad.Add(1)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.jobs = append(h.jobs, j)
		h.seen[j.Key]++
		code := h.code
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) host() string {
	u, _ := url.Parse(h.URL)
	return u.Host
}

func testJob(action string) Job {
	return Job{Key: Key("inc", "s1", "plan"), Site: "demo-plant", PlanID: "plan", IncidentID: "inc", IncidentVersion: 1,
		Step: event.Step{ID: "s1", Kind: "notify", Action: action, Decision: event.DecisionAllowed, Automatic: true}}
}

func TestWebhook(t *testing.T) {
	h := newHookServer(t)
	w, err := NewWebhook(WebhookConfig{Name: "notify", URL: h.URL + "/hook", Secret: secret, AllowedHosts: []string{h.host()}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Execute(context.Background(), testJob(constraint.ActNotify))
	if err != nil || !strings.Contains(res.Detail, "200") {
		t.Fatalf("execute: %+v %v", res, err)
	}
	dry := testJob(constraint.ActNotify)
	dry.DryRun = true
	if res, err := w.Execute(context.Background(), dry); err != nil || !strings.Contains(res.Detail, "dry run") {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	h.mu.Lock()
	got := len(h.jobs)
	h.code = http.StatusInternalServerError
	h.mu.Unlock()
	if got != 1 || h.bad.Load() != 0 {
		t.Fatalf("server saw %d jobs (%d bad); want 1 (the dry run sends nothing)", got, h.bad.Load())
	}
	if _, err := w.Execute(context.Background(), testJob(constraint.ActNotify)); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("5xx: err = %v", err)
	}
	// A wrong secret is rejected by the receiver.
	w2, _ := NewWebhook(WebhookConfig{URL: h.URL, Secret: "other", AllowedHosts: []string{h.host()}})
	if _, err := w2.Execute(context.Background(), testJob(constraint.ActNotify)); err == nil || h.bad.Load() != 1 {
		t.Fatalf("wrong secret: err %v, bad %d", err, h.bad.Load())
	}
}

func TestWebhookConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  WebhookConfig
		msg  string
	}{
		{"host not allowlisted", WebhookConfig{URL: "https://evil.example.com/x", Secret: secret, AllowedHosts: []string{"hooks.example.com"}}, "not in allowed_hosts"},
		{"no allowlist", WebhookConfig{URL: "https://hooks.example.com/x", Secret: secret}, "not in allowed_hosts"},
		{"no secret", WebhookConfig{URL: "https://hooks.example.com/x", AllowedHosts: []string{"hooks.example.com"}}, "secret"},
		{"bad scheme", WebhookConfig{URL: "file:///etc/passwd", Secret: secret, AllowedHosts: []string{""}}, "scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewWebhook(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
	if _, err := NewWebhook(WebhookConfig{URL: "https://hooks.example.com:8443/x", Secret: secret, AllowedHosts: []string{"hooks.example.com"}}); err != nil {
		t.Fatalf("allowlisted host with port: %v", err)
	}
}

// TestWebhookDoesNotFollowRedirects: a redirect could leave the allowlist.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redir := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redir.Close()
	u, _ := url.Parse(redir.URL)
	w, err := NewWebhook(WebhookConfig{URL: redir.URL, Secret: secret, AllowedHosts: []string{u.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Execute(context.Background(), testJob(constraint.ActNotify)); err == nil || hits.Load() != 0 {
		t.Fatalf("redirect followed: err %v, hits %d", err, hits.Load())
	}
}

func demoModel(t *testing.T) *site.Model {
	t.Helper()
	m, err := site.Load("../../../deploy/demo/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGatewayRechecks runs the site-local gateway on an embedded NATS: it
// applies a block of an enterprise source, and refuses a forged request
// whose context claims the IDMZ while its addresses are inside OT.
func TestGatewayRechecks(t *testing.T) {
	env := bustest.Start(t)
	var applied atomic.Int32
	gw := NewGateway("demo-plant", demoModel(t), func(context.Context, Job) error { applied.Add(1); return nil })
	sub, err := gw.Subscribe(env.NC)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	client, err := NewGatewayClient(env.NC, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	block := func(key, src, dst string, ctx constraint.Context) Job {
		return Job{Key: key, Site: "demo-plant", PlanID: "p", IncidentID: "i", IncidentVersion: 1,
			Step:     event.Step{ID: key, Kind: "action", Action: constraint.ActBlockAtIDMZFirewall, Automatic: true, Decision: event.DecisionAllowed},
			SourceIP: src, TargetIP: dst, Context: ctx}
	}
	idmz := constraint.Context{Role: "plc", ZoneKind: "control", Purdue: 1, SourceZoneKind: "enterprise", SourcePurdue: 4}
	ctx := context.Background()
	tests := []struct {
		name    string
		job     Job
		errMsg  string
		applied int32
	}{
		{"enterprise source to PLC is blocked at the IDMZ", block("k1", "10.10.5.21", "10.20.1.11", idmz), "", 1},
		{"the same key is not applied twice", block("k1", "10.10.5.21", "10.20.1.11", idmz), "", 1},
		{"dry run applies nothing", func() Job { j := block("k2", "10.10.5.21", "10.20.1.11", idmz); j.DryRun = true; return j }(), "", 1},
		{"forged context: HMI source inside OT is refused", block("k3", "10.20.2.11", "10.20.1.11", idmz), "constraint re-check: forbidden", 1},
		{"no gateway for the site", func() Job { j := block("k5", "10.10.5.21", "10.20.1.11", idmz); j.Site = "other"; return j }(), "no responders", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Execute(ctx, tc.job)
			if tc.errMsg == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)) {
				t.Fatalf("err = %v, want %q", err, tc.errMsg)
			}
			if applied.Load() != tc.applied {
				t.Fatalf("applied %d, want %d", applied.Load(), tc.applied)
			}
		})
	}
	// The client refuses non-boundary actions before sending.
	if _, err := client.Execute(ctx, testJob(constraint.ActReboot)); err == nil || !strings.Contains(err.Error(), "not a boundary action") {
		t.Fatalf("reboot via gateway: %v", err)
	}
}

// TestGatewayHandle checks the gateway's own decisions without NATS.
func TestGatewayHandle(t *testing.T) {
	m := demoModel(t)
	var sisIP string
	for _, a := range m.Assets {
		if a.Role == "sis" && len(a.IPs) > 0 {
			sisIP = a.IPs[0]
			break
		}
	}
	if sisIP == "" {
		t.Fatal("demo plant has no SIS")
	}
	gw := NewGateway("demo-plant", m, func(context.Context, Job) error { return nil })
	job := func(action, src, dst string) []byte {
		j := Job{Key: action + src + dst, Site: "demo-plant", Step: event.Step{Action: action}, SourceIP: src, TargetIP: dst,
			Context: constraint.Context{Purdue: 4, SourceZoneKind: "enterprise", SourcePurdue: 4}}
		b, _ := json.Marshal(j)
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		refused bool
		reason  string
	}{
		{"remote session from the enterprise to the jump host", job(constraint.ActTerminateRemoteSession, "10.10.5.21", "172.16.35.10"), false, "applied"},
		{"block toward a safety system is not automatic", job(constraint.ActBlockAtIDMZFirewall, "10.10.5.21", sisIP), true, "safety system"},
		{"intrusive action", job(constraint.ActIsolateHost, "10.10.5.21", "10.20.1.11"), true, "not a boundary action"},
		{"unknown addresses fall to the conservative side", job(constraint.ActBlockAtIDMZFirewall, "192.0.2.1", "192.0.2.2"), true, "forbidden"},
		{"garbage", []byte("{"), true, "undecodable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := gw.Handle(context.Background(), tc.data)
			if rep.Refused != tc.refused || !strings.Contains(rep.Reason, tc.reason) {
				t.Fatalf("reply %+v, want refused=%v containing %q", rep, tc.refused, tc.reason)
			}
		})
	}
}

// TestRunnerIdempotent plans the conduit-violation fixture (automatic
// notifications, log pull, IDMZ block; intrusive steps gated), runs it
// twice as a redelivery would, and checks every allowed automatic step ran
// exactly once and nothing else ran.
func TestRunnerIdempotent(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	kv, err := EnsureBucket(ctx, env.JS, time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := newHookServer(t)
	notify, err := NewWebhook(WebhookConfig{Name: "notify", URL: h.URL + "/notify", Secret: secret, AllowedHosts: []string{h.host()}})
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := NewWebhook(WebhookConfig{Name: "ticket", URL: h.URL + "/ticket", Secret: secret, AllowedHosts: []string{h.host()}})
	if err != nil {
		t.Fatal(err)
	}
	var applied atomic.Int32
	gw := NewGateway("demo-plant", demoModel(t), func(context.Context, Job) error { applied.Add(1); return nil })
	sub, err := gw.Subscribe(env.NC)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	gc, _ := NewGatewayClient(env.NC, 5*time.Second)
	byAction := map[string]Executor{
		constraint.ActNotify: notify, constraint.ActOpenISMSIncident: ticket, constraint.ActOpenTicket: ticket,
		constraint.ActBlockAtIDMZFirewall: gc, constraint.ActTerminateRemoteSession: gc,
	}
	// The plans are the golden plans of the fixture (playbooks/testdata),
	// so this test does not depend on the planner.
	var inc event.Incident
	if err := json.Unmarshal(mustRead(t, "../../../playbooks/testdata/PB-OT-03/into-control-zone/incident.json"), &inc); err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Plan event.Plan `json:"plan"`
	}
	if err := json.Unmarshal(mustRead(t, "../../../playbooks/testdata/PB-OT-03/into-control-zone/expected.json"), &golden); err != nil {
		t.Fatal(err)
	}
	plans := []event.Plan{golden.Plan}
	c := constraint.ContextOf(&inc)

	// Dry run first: nothing is sent, applied or remembered.
	dry, err := NewRunner(kv, byAction, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		outs, err := dry.Run(ctx, p, c, inc)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.Status == StatusDone {
				t.Errorf("dry run did %s", o.StepID)
			}
		}
	}
	if len(h.jobs) != 0 || applied.Load() != 0 {
		t.Fatalf("dry run had effects: %d webhook calls, %d applied", len(h.jobs), applied.Load())
	}

	r, err := NewRunner(kv, byAction, false)
	if err != nil {
		t.Fatal(err)
	}
	wantDone := 0
	for round := range 2 {
		for _, p := range plans {
			outs, err := r.Run(ctx, p, c, inc)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range outs {
				st := p.Steps[i]
				runnable := st.Decision == event.DecisionAllowed && st.Automatic && byAction[st.Action] != nil
				switch {
				case !runnable && (o.Status == StatusDone || o.Status == StatusDuplicate):
					t.Errorf("round %d: %s/%s (%s, %s) ran", round, p.PlaybookID, st.ID, st.Decision, st.Action)
				case runnable && round == 0 && o.Status != StatusDone:
					t.Errorf("round %d: %s/%s: %+v", round, p.PlaybookID, st.ID, o)
				case runnable && round == 1 && o.Status != StatusDuplicate:
					t.Errorf("redelivery ran %s/%s again: %+v", p.PlaybookID, st.ID, o)
				}
				if runnable && round == 0 {
					wantDone++
				}
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	webhooks := 0
	for _, n := range h.seen {
		if n != 1 {
			t.Errorf("a webhook key was delivered %d times", n)
		}
		webhooks += n
	}
	if webhooks+int(applied.Load()) != wantDone || applied.Load() != 1 {
		t.Fatalf("effects: %d webhooks + %d gateway = %d, want %d (1 gateway block)", webhooks, applied.Load(), webhooks+int(applied.Load()), wantDone)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGatewayRefusesOtherSite(t *testing.T) {
	gw := NewGateway("demo-plant", nil, func(context.Context, Job) error { t.Fatal("applied"); return nil })
	j := testJob(constraint.ActBlockAtIDMZFirewall)
	j.Site = "other-plant"
	b, _ := json.Marshal(j)
	if rep := gw.Handle(context.Background(), b); !rep.Refused || !strings.Contains(rep.Reason, "other-plant") {
		t.Fatalf("reply %+v", rep)
	}
}

// FuzzGatewayHandle: any request bytes give a reply, never a panic, and
// nothing is applied unless the constraint re-check allowed it.
func FuzzGatewayHandle(f *testing.F) {
	good, _ := json.Marshal(Job{Key: "k", Site: "demo-plant", Step: event.Step{Action: constraint.ActBlockAtIDMZFirewall},
		SourceIP: "10.10.5.21", TargetIP: "10.20.1.11"})
	f.Add(good)
	f.Add([]byte(`{"site":"demo-plant","step":{"action":"reboot"}}`))
	f.Add([]byte(`{`))
	m, err := site.Load("../../../deploy/demo/site.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gw := NewGateway("demo-plant", m, func(_ context.Context, j Job) error {
			a, _ := constraint.Lookup(j.Step.Action)
			if a.Class != event.ClassBoundary {
				t.Fatalf("applied non-boundary action %q", j.Step.Action)
			}
			return nil
		})
		rep := gw.Handle(context.Background(), data)
		if rep.Reason == "" {
			t.Fatalf("reply without reason: %+v", rep)
		}
	})
}
