package respond

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/respond/approval"
	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

const approvalsPack = "testdata/approvals"

// countingExecutor is an executor that counts its jobs per step id.
type countingExecutor struct {
	name string
	mu   sync.Mutex
	jobs map[string]int
	dry  map[string]int
}

func newCounting(name string) *countingExecutor {
	return &countingExecutor{name: name, jobs: map[string]int{}, dry: map[string]int{}}
}

func (c *countingExecutor) Name() string { return c.name }

func (c *countingExecutor) Execute(_ context.Context, job executor.Job) (executor.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if job.DryRun {
		c.dry[job.Step.ID]++
	} else {
		c.jobs[job.Step.ID]++
	}
	return executor.Result{Detail: c.name + " " + job.Step.ID}, nil
}

func (c *countingExecutor) count(step string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[step]
}

// total counts the jobs (dry runs too) whose step id starts with prefix.
func (c *countingExecutor) total(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range []map[string]int{c.jobs, c.dry} {
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				n += v
			}
		}
	}
	return n
}

// fakeClock is the service's clock in the approvals tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// approvalEnv is a running respond service with fake executors, audit on
// and a fake clock.
type approvalEnv struct {
	t        *testing.T
	js       jetstream.JetStream
	svc      *Service
	clock    *fakeClock
	isolate  *countingExecutor
	notify   *countingExecutor
	reg      *prometheus.Registry
	inc      event.Incident
	plan     event.Plan
	stepID   string
	approval int
}

func startApprovals(t *testing.T, dryRun bool) *approvalEnv {
	t.Helper()
	env := bustest.Start(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	svc, err := New(Config{PlaybooksDir: approvalsPack, RetryDelay: 50 * time.Millisecond, Audit: true, Renotify: 15 * time.Minute},
		Deps{JS: env.JS, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	svc.now = clock.now
	kv, err := executor.EnsureBucket(ctx, env.JS, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	isolate, notify := newCounting("gateway"), newCounting("notify")
	if svc.runner, err = executor.NewRunner(kv, map[string]executor.Executor{"isolate_host": isolate, "notify": notify}, dryRun); err != nil {
		t.Fatal(err)
	}
	if err := svc.open(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	a := &approvalEnv{t: t, js: env.JS, svc: svc, clock: clock, isolate: isolate, notify: notify, reg: reg, stepID: "isolate-controller"}
	a.inc = readIncident(t, "PB-OT-01")
	a.publishIncident(a.inc)
	plans := svc.planner.Plan(a.inc, clock.now())
	if len(plans) != 1 {
		t.Fatalf("%d plans, want 1", len(plans))
	}
	a.plan = plans[0]
	st := a.plan.Steps[slices.IndexFunc(a.plan.Steps, func(s event.Step) bool { return s.ID == a.stepID })]
	if st.Decision != event.DecisionNeedsApproval || st.Quorum < 2 || !slices.Equal(st.Approvers, []string{"control_engineer", "operations_manager"}) {
		t.Fatalf("test step is %+v; want needs_approval by control_engineer and operations_manager", st)
	}
	a.waitRequest("the approval request", func(r Request) bool { return r.State == approval.StatePending })
	return a
}

func (a *approvalEnv) publishIncident(inc event.Incident) {
	a.t.Helper()
	id := event.NewID("test-incident", inc.ID, inc.Severity, time.Now().String())
	if err := bus.PublishRecords(context.Background(), a.js, bus.IncidentsSubject(inc.Site), id, []event.Incident{inc}); err != nil {
		a.t.Fatal(err)
	}
}

// approve publishes a verdict like the console does, at the fake clock's
// time, valid for an hour; msgID "" derives it from the approval id.
func (a *approvalEnv) approve(person, role, verdict, msgID string) event.Approval {
	a.t.Helper()
	at := a.clock.now()
	ap := event.Approval{
		ID:   event.NewID("approval", a.plan.ID, a.stepID, person, role, verdict),
		Site: a.plan.Site, PlanID: a.plan.ID, IncidentID: a.plan.IncidentID, IncidentVersion: a.plan.IncidentVersion,
		StepID: a.stepID, Approver: person, Role: role, Verdict: verdict, Comment: "checked on independent indication",
		At: at, ExpiresAt: at.Add(time.Hour),
	}
	a.publishApproval(ap, msgID)
	return ap
}

func (a *approvalEnv) publishApproval(ap event.Approval, msgID string) {
	a.t.Helper()
	data, err := event.Marshal(event.ApprovalBatch{ap})
	if err != nil {
		a.t.Fatal(err)
	}
	if msgID == "" {
		msgID = "approval:" + ap.ID
	}
	if err := bus.Publish(context.Background(), a.js, bus.ApprovalsSubject(ap.Site), msgID, 1, data); err != nil {
		a.t.Fatal(err)
	}
	a.approval++
	a.waitConsumed()
}

// waitConsumed waits until respond-approvals acknowledged every approval
// published so far.
func (a *approvalEnv) waitConsumed() {
	a.t.Helper()
	ctx := context.Background()
	waitFor(a.t, "approvals consumed", func() bool {
		c, err := a.js.Consumer(ctx, bus.StreamApprovals, bus.ConsumerRespondApprovals)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= uint64(a.approval) && info.NumAckPending == 0
	})
}

func (a *approvalEnv) request() (Request, bool) {
	a.t.Helper()
	e, err := a.svc.approvals.Get(context.Background(), RequestKey(a.plan.IncidentID, a.plan.ID, a.stepID))
	if err != nil {
		return Request{}, false
	}
	var r Request
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		a.t.Fatal(err)
	}
	return r, true
}

func (a *approvalEnv) waitRequest(what string, cond func(Request) bool) Request {
	a.t.Helper()
	var r Request
	waitFor(a.t, what, func() bool {
		var ok bool
		r, ok = a.request()
		return ok && cond(r)
	})
	return r
}

func (a *approvalEnv) mustState(want string) Request {
	a.t.Helper()
	r, ok := a.request()
	if !ok || r.State != want {
		a.t.Fatalf("request state %q (found %v), want %q: %+v", r.State, ok, want, r)
	}
	return r
}

func (a *approvalEnv) chain() []audit.Record {
	a.t.Helper()
	l, err := audit.OpenLog(context.Background(), a.js, 1)
	if err != nil {
		a.t.Fatal(err)
	}
	recs, err := l.Read(context.Background(), a.plan.Site)
	if err != nil {
		a.t.Fatal(err)
	}
	if b := audit.Verify(recs); b != nil {
		a.t.Fatalf("audit chain: %v", b)
	}
	return recs
}

func countKind(recs []audit.Record, kind, result string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && (result == "" || r.Result == result) {
			n++
		}
	}
	return n
}

// TestApprovalsEndToEnd: an intrusive step needing two approvers. One
// approval leaves it pending; a second approval by the same person in the
// other role still does; a distinct second approver makes it run, once;
// redelivering that approval does not run it again; every approval is
// audited and the chain verifies.
func TestApprovalsEndToEnd(t *testing.T) {
	a := startApprovals(t, false)
	a.clock.advance(2 * time.Minute)

	a.approve("alice", "control_engineer", event.VerdictApprove, "")
	r := a.mustState(approval.StatePending)
	if len(r.Approvals) != 1 || a.isolate.count(a.stepID) != 0 {
		t.Fatalf("after one approval: %+v, executed %d", r, a.isolate.count(a.stepID))
	}

	a.approve("alice", "operations_manager", event.VerdictApprove, "")
	r = a.mustState(approval.StatePending)
	if len(r.Approvals) != 2 || a.isolate.count(a.stepID) != 0 || !strings.Contains(r.Reason, "missing operations_manager") {
		t.Fatalf("one person in both roles: %+v, executed %d", r, a.isolate.count(a.stepID))
	}

	a.clock.advance(time.Minute)
	bob := a.approve("bob", "operations_manager", event.VerdictApprove, "")
	r = a.mustState(approval.StateApproved)
	if a.isolate.count(a.stepID) != 1 || r.Outcome == nil || r.Outcome.Status != executor.StatusDone {
		t.Fatalf("approved by two people: executed %d times, request %+v", a.isolate.count(a.stepID), r)
	}

	// Redelivered (a new message id: past the stream's duplicate window).
	a.publishApproval(bob, "redelivered-bob")
	a.approve("carol", "control_engineer", event.VerdictApprove, "")
	r = a.mustState(approval.StateApproved)
	if a.isolate.count(a.stepID) != 1 {
		t.Fatalf("redelivered approval ran the step again: %d", a.isolate.count(a.stepID))
	}
	if len(r.Approvals) != 4 {
		t.Fatalf("request keeps %d approvals, want 4 (the redelivery once)", len(r.Approvals))
	}

	recs := a.chain()
	if got := countKind(recs, audit.KindApproval, event.VerdictApprove); got != 4 {
		t.Errorf("%d approval audit records, want 4 (one per distinct approval)", got)
	}
	acts := 0
	for _, r := range recs {
		if r.Kind == audit.KindAction && r.StepID == a.stepID {
			acts++
			if r.Result != executor.StatusDone || r.PlanID != a.plan.ID {
				t.Errorf("action record %+v", r)
			}
		}
	}
	if acts != 1 {
		t.Errorf("%d action records of the approved step, want 1", acts)
	}
	if got := countKind(recs, audit.KindRequest, approval.StateApproved); got != 1 {
		t.Errorf("%d approved request records, want 1", got)
	}
	if got := testutil.ToFloat64(a.svc.m.requests.WithLabelValues(approval.StateApproved)); got != 1 {
		t.Errorf("approved requests metric %v, want 1", got)
	}

	// Renotification stops once approved.
	a.clock.advance(time.Hour)
	if n, err := a.svc.Renotify(context.Background()); err != nil || n != 0 {
		t.Fatalf("renotified an approved request: %d, %v", n, err)
	}
}

// TestApprovalRejectedAndBadInput: a rejection by an approver stops the
// step for good; approvals that cannot count are dead-lettered or
// ignored, their neighbours unaffected.
func TestApprovalRejectedAndBadInput(t *testing.T) {
	a := startApprovals(t, false)
	a.clock.advance(time.Minute)

	// Wrong role: recorded, not counted.
	a.approve("mallory", "soc_analyst", event.VerdictApprove, "")
	// Stale incident version: not counted.
	stale := event.Approval{ID: event.NewID("stale"), Site: a.plan.Site, PlanID: a.plan.ID, IncidentID: a.plan.IncidentID,
		IncidentVersion: a.plan.IncidentVersion - 1, StepID: a.stepID, Approver: "bob", Role: "operations_manager",
		Verdict: event.VerdictApprove, At: a.clock.now(), ExpiresAt: a.clock.now().Add(time.Hour)}
	a.publishApproval(stale, "")
	// Unknown plan and an invalid record: dead-lettered.
	unknown := stale
	unknown.ID, unknown.PlanID, unknown.IncidentVersion = event.NewID("unknown"), event.NewID("no-such-plan"), a.plan.IncidentVersion
	a.publishApproval(unknown, "")
	invalid := stale
	invalid.ID, invalid.Verdict = event.NewID("invalid"), "maybe"
	a.publishApproval(invalid, "")
	// Published on another site's subject: invalid.
	wrongSubject := stale
	wrongSubject.ID, wrongSubject.Site = event.NewID("wrong-subject"), "other-plant"
	data, err := event.Marshal(event.ApprovalBatch{wrongSubject})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), a.js, bus.ApprovalsSubject(a.plan.Site), "wrong-subject", 1, data); err != nil {
		t.Fatal(err)
	}
	a.approval++
	a.waitConsumed()
	// Not msgpack at all: poison.
	if err := bus.Publish(context.Background(), a.js, bus.ApprovalsSubject(a.plan.Site), "garbage", 1, []byte("\xc1")); err != nil {
		t.Fatal(err)
	}
	a.approval++
	a.waitConsumed()

	r := a.mustState(approval.StatePending)
	a.approve("alice", "control_engineer", event.VerdictApprove, "")
	a.approve("carol", "operations_manager", event.VerdictReject, "")
	r = a.mustState(approval.StateRejected)
	a.approve("bob", "operations_manager", event.VerdictApprove, "")
	r = a.mustState(approval.StateRejected)
	if a.isolate.count(a.stepID) != 0 || r.Outcome != nil {
		t.Fatalf("rejected step ran: %d, %+v", a.isolate.count(a.stepID), r)
	}
	for result, want := range map[string]float64{"ignored": 2, "counted": 3, "invalid": 2, "unknown_request": 1, "undecodable": 1} {
		if got := testutil.ToFloat64(a.svc.m.approvals.WithLabelValues(result)); got != want {
			t.Errorf("approvals{result=%s} = %v, want %v", result, got, want)
		}
	}
	dlq := streamMsgs(t, a.js, bus.StreamDLQ)
	var reasons []string
	for _, m := range dlq {
		var dls []event.DeadLetter
		if err := event.Unmarshal(m.Data, &dls); err != nil {
			t.Fatal(err)
		}
		for _, d := range dls {
			reasons = append(reasons, d.Reason)
		}
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{"no approval request for plan", `verdict "maybe"`, "decode approvals", "published on c981.approvals.demo-plant"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no dead letter with %q in:\n%s", want, joined)
		}
	}
	recs := a.chain()
	if got := countKind(recs, audit.KindRequest, approval.StateRejected); got != 1 {
		t.Errorf("%d rejected request records, want 1", got)
	}
	if got := countKind(recs, audit.KindApproval, ""); got != 6 {
		t.Errorf("%d approval audit records, want 6 (wrong role, stale, unknown plan, alice, carol, bob)", got)
	}
	a.clock.advance(time.Hour)
	if n, err := a.svc.Renotify(context.Background()); err != nil || n != 0 {
		t.Fatalf("renotified a rejected request: %d, %v", n, err)
	}
}

// TestApprovalTimeout: without the quorum before the deadline the step is
// never run, the request is timed out, and it is renotified every
// interval (fake clock) until a newer incident version supersedes it.
func TestApprovalTimeout(t *testing.T) {
	for _, dry := range []bool{false, true} {
		name := "live"
		if dry {
			name = "dry run"
		}
		t.Run(name, func(t *testing.T) {
			a := startApprovals(t, dry)
			ctx := context.Background()
			a.clock.advance(5 * time.Minute)
			a.approve("alice", "control_engineer", event.VerdictApprove, "")

			// Not yet due: nothing sent.
			if n, err := a.svc.Renotify(ctx); err != nil || n != 0 {
				t.Fatalf("renotify before the interval: %d, %v", n, err)
			}
			a.clock.advance(10 * time.Minute) // 15 min after the plan
			if n, err := a.svc.Renotify(ctx); err != nil || n != 1 {
				t.Fatalf("renotify after the interval: %d, %v", n, err)
			}
			a.mustState(approval.StatePending)

			a.clock.advance(20 * time.Minute) // past the 30 min deadline
			if n, err := a.svc.Renotify(ctx); err != nil || n != 1 {
				t.Fatalf("renotify at the timeout: %d, %v", n, err)
			}
			r := a.mustState(approval.StateTimedOut)
			if !strings.Contains(r.Reason, "nothing is done to the process") {
				t.Errorf("timeout reason %q", r.Reason)
			}
			// A late second approver changes nothing.
			a.approve("bob", "operations_manager", event.VerdictApprove, "")
			r = a.mustState(approval.StateTimedOut)
			if a.isolate.total(a.stepID) != 0 || r.Outcome != nil {
				t.Fatalf("timed-out step ran: %d, %+v", a.isolate.total(a.stepID), r)
			}
			a.clock.advance(15 * time.Minute)
			if n, err := a.svc.Renotify(ctx); err != nil || n != 1 {
				t.Fatalf("renotify of the timed-out request: %d, %v", n, err)
			}
			if got := a.notify.total(a.stepID + "/renotify"); got != 3 {
				t.Errorf("%d renotifications through the notify executor, want 3", got)
			}
			if dry && a.notify.count(a.stepID+"/renotify-1") != 0 {
				t.Error("dry run sent a live notification")
			}

			// A newer incident version that changes what the plans depend
			// on (a rule joined) supersedes the request: no more
			// notifications. (A version that only adds alerts would not:
			// TestUnchangedVersionNotPlanned.)
			inc2 := a.inc
			inc2.Version++
			inc2.RuleIDs = append(slices.Clone(a.inc.RuleIDs), "OT-099")
			a.publishIncident(inc2)
			old := a.waitRequest("superseded", func(r Request) bool { return r.State == StateSuperseded })
			newPlan := a.svc.planner.Plan(inc2, a.clock.now())[0]
			waitFor(t, "the new version's request", func() bool {
				_, err := a.svc.approvals.Get(ctx, RequestKey(newPlan.IncidentID, newPlan.ID, a.stepID))
				return err == nil
			})
			a.clock.advance(time.Hour)
			// Only the new version's request is notified.
			if n, err := a.svc.Renotify(ctx); err != nil || n != 1 {
				t.Fatalf("renotify after the new version: %d, %v; want 1 (the new plan's request)", n, err)
			}
			if r := a.mustState(StateSuperseded); r.Notified != old.Notified || r.Notified != 3 {
				t.Fatalf("superseded request notified again: %d times, was %d", r.Notified, old.Notified)
			}
			// The new version's request timed out in that last round too.
			// (The incident consumer appends the superseded record just
			// after it writes the requests: wait for it.)
			var recs []audit.Record
			waitFor(t, "the superseded record", func() bool {
				recs = a.chain()
				return countKind(recs, audit.KindRequest, StateSuperseded) > 0
			})
			if countKind(recs, audit.KindRenotify, "") != 4 || countKind(recs, audit.KindRequest, approval.StateTimedOut) != 2 ||
				countKind(recs, audit.KindRequest, StateSuperseded) != 1 {
				t.Errorf("audit: %d renotify, %d timed_out, %d superseded records; want 4, 2, 1",
					countKind(recs, audit.KindRenotify, ""), countKind(recs, audit.KindRequest, approval.StateTimedOut),
					countKind(recs, audit.KindRequest, StateSuperseded))
			}
		})
	}
}
