package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

func init() {
	coveredElsewhere = append(coveredElsewhere,
		"POST /api/incidents/{id}/plans/{plan}/steps/{step}/approvals", "GET /api/approvals")
}

// Tokens of the approval tests beyond roleToken (demo-plant, one role).
const (
	otherEngineerToken = "token-of-other-plant-engineer-01"
	twoRolesToken      = "token-of-engineer-and-manager-01"
)

// approvalPlans are the plans the approval tests add to the demo fixture:
// an open request (two approvers, 30 minutes), one in the other plant,
// and closed ones (rejected, run, superseded) for the list.
type approvalPlans struct {
	open, other, rejected, run, superseded, newer event.Plan
}

const approvalStep = "isolate-controller"

func approvalPlan(incident string, version uint64, site, playbook string, created time.Time) event.Plan {
	return event.Plan{
		ID: event.NewID("plan", incident, fmt.Sprint(version), playbook), IncidentID: incident, IncidentVersion: version, Site: site,
		PlaybookID: playbook, PlaybookTitle: "Controller isolation after approval", CreatedAt: created,
		Steps: []event.Step{
			{Index: 1, ID: "notify-control-engineer", Kind: "notify", Action: "notify", Class: event.ClassPassive, Audience: "control_engineer",
				Text: "Tell the control engineer.", Automatic: true, Decision: event.DecisionAllowed, Reason: "passive"},
			{Index: 2, ID: approvalStep, Kind: "action", Action: "isolate_host", Class: event.ClassIntrusive, Audience: "control_engineer",
				Text: "Isolate the controller only if both decide so.", Automatic: true, Decision: event.DecisionNeedsApproval,
				Reason: "intrusive action isolate_host is never automatic; needs 2 distinct approvers", Quorum: 2, TimeoutSeconds: 1800,
				Approvers: []string{"control_engineer", "operations_manager"}},
		},
	}
}

// loadApprovalPlans inserts the plans with the store's column list and the
// audit records of the closed ones.
func loadApprovalPlans(t *testing.T, conn driver.Conn) approvalPlans {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	created := now.Add(-5 * time.Minute)
	p := approvalPlans{
		open:       approvalPlan(event.NewID("incident", "approvals-open"), 3, fixture.Site, "PB-APPROVE", created),
		other:      approvalPlan(event.NewID("incident", "approvals-other"), 1, otherSite, "PB-APPROVE", created),
		rejected:   approvalPlan(event.NewID("incident", "approvals-rejected"), 1, fixture.Site, "PB-APPROVE", created.Add(-time.Minute)),
		run:        approvalPlan(event.NewID("incident", "approvals-run"), 1, fixture.Site, "PB-APPROVE", created.Add(-2*time.Minute)),
		superseded: approvalPlan(event.NewID("incident", "approvals-superseded"), 1, fixture.Site, "PB-APPROVE", created.Add(-3*time.Minute)),
	}
	p.newer = approvalPlan(p.superseded.IncidentID, 2, fixture.Site, "PB-APPROVE", created.Add(-time.Second))
	b, err := conn.PrepareBatch(ctx, `INSERT INTO actions (plan_id, incident_id, incident_version, site,
	playbook_id, playbook_title, created_at, created_ms, step_index, step_id, kind, action, class,
	audience, text, decision, reason, approvers, automatic, quorum, timeout_s)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range []event.Plan{p.open, p.other, p.rejected, p.run, p.superseded, p.newer} {
		for _, s := range pl.Steps {
			auto := uint8(0)
			if s.Automatic {
				auto = 1
			}
			approvers := s.Approvers
			if approvers == nil {
				approvers = []string{}
			}
			if err := b.Append(pl.ID, pl.IncidentID, pl.IncidentVersion, pl.Site, pl.PlaybookID, pl.PlaybookTitle,
				pl.CreatedAt, uint16(pl.CreatedAt.Nanosecond()/1e6), uint16(s.Index), s.ID, s.Kind, s.Action, s.Class,
				s.Audience, s.Text, s.Decision, s.Reason, approvers, auto, uint8(s.Quorum), uint32(s.TimeoutSeconds)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	ab, err := conn.PrepareBatch(ctx, `INSERT INTO audit (site, seq, id, time, time_ns, actor, actor_role, kind, what, why,
	result, incident_id, incident_version, plan_id, step_id, inputs_hash, prev_hash, hash)`)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	rec := func(pl event.Plan, at time.Time, actor, role, kind, result string) {
		seq++
		if err := ab.Append(pl.Site, seq, event.NewID("audit-test", fmt.Sprint(seq)), at, uint32(at.Nanosecond()), actor, role, kind,
			kind+" "+approvalStep, "test", result, pl.IncidentID, pl.IncidentVersion, pl.ID, approvalStep,
			strings.Repeat("a", 64), strings.Repeat("0", 64), strings.Repeat("b", 64)); err != nil {
			t.Fatal(err)
		}
	}
	rec(p.open, created.Add(time.Minute), "user-control_engineer", "control_engineer", "approval", event.VerdictApprove)
	rec(p.rejected, created.Add(time.Minute), "user-manager", "operations_manager", "approval", event.VerdictReject)
	rec(p.run, created.Add(time.Minute), "alice", "control_engineer", "approval", event.VerdictApprove)
	rec(p.run, created.Add(2*time.Minute), "bob", "operations_manager", "approval", event.VerdictApprove)
	rec(p.run, created.Add(2*time.Minute), "c981/respond", "", "action", "done")
	if err := ab.Send(); err != nil {
		t.Fatal(err)
	}
	return p
}

// approvalService serves the demo fixture plus the approval plans, with
// a token per role on demo-plant, a control engineer of the other plant,
// an engineer who is also a manager, and the all-sites admin. With bus
// false it has no JetStream (read-only console).
func approvalService(t *testing.T, withBus bool) (*console.Service, jetstream.JetStream, approvalPlans) {
	t.Helper()
	conn := demoConn(t)
	plans := loadApprovalPlans(t, conn)
	cfg := console.Config{
		Addr: "0.0.0.0:0", RateLimit: console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5},
		ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}},
	}
	for _, r := range console.Roles {
		cfg.Tokens = append(cfg.Tokens, console.TokenConfig{Token: roleToken(r), User: "user-" + r, Roles: []string{r}, Sites: []string{fixture.Site}})
	}
	cfg.Tokens = append(cfg.Tokens,
		console.TokenConfig{Token: adminAllToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}},
		console.TokenConfig{Token: otherEngineerToken, User: "olga", Roles: []string{console.RoleControlEngineer}, Sites: []string{otherSite}},
		console.TokenConfig{Token: twoRolesToken, User: "dual", Roles: []string{console.RoleControlEngineer, console.RoleManager}, Sites: []string{fixture.Site}})
	deps := console.Deps{Conn: conn, Logger: quietLogger(), Registry: telemetry.NewRegistry()}
	if withBus {
		deps.JS = bustest.Start(t).JS
	}
	svc, err := console.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return svc, deps.JS, plans
}

func approvalPath(p event.Plan, step string) string {
	return "/api/incidents/" + p.IncidentID + "/plans/" + p.ID + "/steps/" + step + "/approvals"
}

func postJSON(h http.Handler, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// approvalsOnBus returns the approvals published on C981_APPROVALS.
func approvalsOnBus(t *testing.T, js jetstream.JetStream) []event.Approval {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, bus.StreamApprovals)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Approval
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var batch event.ApprovalBatch
		if err := event.Unmarshal(m.Data, &batch); err != nil {
			t.Fatal(err)
		}
		for _, a := range batch {
			if m.Subject != bus.ApprovalsSubject(a.Site) {
				t.Errorf("approval of site %s on subject %s", a.Site, m.Subject)
			}
		}
		out = append(out, batch...)
	}
	return out
}

// TestApprovalRoute: role x scope x verdict, stale versions, superseded
// plans, wrong roles, mass assignment and a missing bus. Every accepted
// approval is on the bus exactly once, with the caller's identity.
func TestApprovalRoute(t *testing.T) {
	svc, js, p := approvalService(t, true)
	h := svc.Handler()
	open := approvalPath(p.open, approvalStep)
	body := func(verdict string, version uint64, extra string) string {
		return fmt.Sprintf(`{"verdict":%q,"comment":"checked the level on the local gauge","incident_version":%d%s}`, verdict, version, extra)
	}
	type result struct {
		code           int
		approver, role string
	}
	var cases []struct {
		name, token, path, body string
		want                    result
	}
	add := func(name, token, path, body string, want result) {
		cases = append(cases, struct {
			name, token, path, body string
			want                    result
		}{name, token, path, body, want})
	}
	// Role x verdict on the own site.
	for _, role := range console.Roles {
		for _, verdict := range []string{event.VerdictApprove, event.VerdictReject} {
			want := result{code: http.StatusForbidden}
			switch role {
			case console.RoleControlEngineer:
				want = result{http.StatusAccepted, "user-" + role, "control_engineer"}
			case console.RoleManager:
				want = result{http.StatusAccepted, "user-" + role, "operations_manager"}
			}
			add(role+"/"+verdict, roleToken(role), open, body(verdict, 3, ""), want)
		}
	}
	// Scope: another site's engineer, and the admin of every site.
	add("other site's engineer on demo-plant", otherEngineerToken, open, body("approve", 3, ""), result{code: http.StatusNotFound})
	add("demo engineer on other-plant", roleToken(console.RoleControlEngineer), approvalPath(p.other, approvalStep), body("approve", 1, ""), result{code: http.StatusNotFound})
	add("other site's engineer on own site", otherEngineerToken, approvalPath(p.other, approvalStep), body("approve", 1, ""), result{http.StatusAccepted, "olga", "control_engineer"})
	add("all-sites admin", adminAllToken, open, body("approve", 3, ""), result{code: http.StatusForbidden})
	// Several approver roles: the caller names one of theirs.
	add("two roles, none named", twoRolesToken, open, body("approve", 3, ""), result{code: http.StatusBadRequest})
	add("two roles, one named", twoRolesToken, open, body("approve", 3, `,"role":"operations_manager"`), result{http.StatusAccepted, "dual", "operations_manager"})
	add("named role not theirs", twoRolesToken, open, body("approve", 3, `,"role":"safety_engineer"`), result{code: http.StatusForbidden})
	add("single role names another", roleToken(console.RoleControlEngineer), open, body("approve", 3, `,"role":"operations_manager"`), result{code: http.StatusForbidden})
	// Versions and plan state.
	add("stale incident version", roleToken(console.RoleControlEngineer), open, body("approve", 2, ""), result{code: http.StatusConflict})
	add("superseded plan", roleToken(console.RoleControlEngineer), approvalPath(p.superseded, approvalStep), body("approve", 1, ""), result{code: http.StatusConflict})
	add("step that needs no approval", roleToken(console.RoleControlEngineer), approvalPath(p.open, "notify-control-engineer"), body("approve", 3, ""), result{code: http.StatusConflict})
	add("no such step", roleToken(console.RoleControlEngineer), approvalPath(p.open, "reboot-everything"), body("approve", 3, ""), result{code: http.StatusNotFound})
	add("no such plan", roleToken(console.RoleControlEngineer), "/api/incidents/"+p.open.IncidentID+"/plans/"+event.NewID("nope")+"/steps/"+approvalStep+"/approvals", body("approve", 3, ""), result{code: http.StatusNotFound})
	add("plan of another incident", roleToken(console.RoleControlEngineer), "/api/incidents/"+p.run.IncidentID+"/plans/"+p.open.ID+"/steps/"+approvalStep+"/approvals", body("approve", 3, ""), result{code: http.StatusNotFound})
	add("malformed plan id", roleToken(console.RoleControlEngineer), "/api/incidents/"+p.open.IncidentID+"/plans/42/steps/"+approvalStep+"/approvals", body("approve", 3, ""), result{code: http.StatusBadRequest})
	// Mass assignment and malformed bodies.
	add("approver in the body", roleToken(console.RoleControlEngineer), open, body("approve", 3, `,"approver":"the-plant-manager"`), result{code: http.StatusBadRequest})
	add("time in the body", roleToken(console.RoleControlEngineer), open, body("approve", 3, `,"at":"2026-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z"`), result{code: http.StatusBadRequest})
	add("plan id in the body", roleToken(console.RoleControlEngineer), open, body("approve", 3, `,"plan_id":"`+p.run.ID+`"`), result{code: http.StatusBadRequest})
	add("unknown verdict", roleToken(console.RoleControlEngineer), open, body("maybe", 3, ""), result{code: http.StatusBadRequest})
	add("no incident version", roleToken(console.RoleControlEngineer), open, `{"verdict":"approve"}`, result{code: http.StatusBadRequest})
	add("two objects", roleToken(console.RoleControlEngineer), open, body("approve", 3, "")+"{}", result{code: http.StatusBadRequest})
	add("control character in comment", roleToken(console.RoleControlEngineer), open, `{"verdict":"approve","incident_version":3,"comment":"a\u0007b"}`, result{code: http.StatusUnprocessableEntity})

	accepted := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := postJSON(h, tc.path, tc.token, tc.body)
			if rec.Code != tc.want.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want.code)
			}
			if rec.Code != http.StatusAccepted {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q of a refusal", ct)
				}
				return
			}
			accepted++
			var a event.Approval
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			if a.Approver != tc.want.approver || a.Role != tc.want.role || a.StepID != approvalStep || a.ID == "" ||
				!a.ExpiresAt.After(a.At) || a.ExpiresAt.Sub(a.At) > console.ApprovalValidity {
				t.Fatalf("approval %+v, want approver %s role %s", a, tc.want.approver, tc.want.role)
			}
		})
	}
	// A repeated submission is the same approval (same message id).
	if rec := postJSON(h, open, roleToken(console.RoleControlEngineer), body("approve", 3, "")); rec.Code != http.StatusAccepted {
		t.Fatalf("repeat: %d %s", rec.Code, rec.Body)
	}
	got := approvalsOnBus(t, js)
	otherGot := 0
	for _, a := range got {
		if a.Site == otherSite {
			otherGot++
		}
	}
	if len(got) != accepted {
		t.Fatalf("%d approvals on the bus, want %d (one per accepted request, the repeat deduplicated)", len(got), accepted)
	}
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a.ID] {
			t.Errorf("approval %s twice on the bus", a.ID)
		}
		seen[a.ID] = true
		if a.IncidentVersion != p.open.IncidentVersion && a.PlanID == p.open.ID {
			t.Errorf("approval bound to version %d", a.IncidentVersion)
		}
	}
	if otherGot != 1 {
		t.Errorf("%d approvals of the other plant on the bus, want 1", otherGot)
	}
}

// TestApprovalRouteWithoutBus: a read-only console refuses approvals
// with 503 problem JSON.
func TestApprovalRouteWithoutBus(t *testing.T) {
	svc, _, p := approvalService(t, false)
	rec := postJSON(svc.Handler(), approvalPath(p.open, approvalStep), roleToken(console.RoleControlEngineer), `{"verdict":"approve","incident_version":3}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s %s, want 503 problem", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestListApprovals: the open requests of the caller's sites with the
// verdicts so far; rejected, run and superseded requests are left out.
func TestListApprovals(t *testing.T) {
	svc, _, p := approvalService(t, false)
	h := svc.Handler()
	list := func(path, token string) console.ApprovalsResponse {
		t.Helper()
		rec := get(h, path, token)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		var out console.ApprovalsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	plansOf := func(r console.ApprovalsResponse) []string {
		var ids []string
		for _, it := range r.Requests {
			ids = append(ids, it.PlanID)
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{p.open.ID, p.newer.ID}
	slices.Sort(want)
	tests := []struct {
		name, path, token string
		plans             []string
	}{
		{"manager of demo-plant", "/api/approvals", roleToken(console.RoleManager), want},
		{"site filter", "/api/approvals?site=demo-plant&limit=10", roleToken(console.RoleAuditor), want},
		{"another site's filter", "/api/approvals?site=other-plant", roleToken(console.RoleManager), nil},
		{"other plant's engineer", "/api/approvals", otherEngineerToken, []string{p.other.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plansOf(list(tc.path, tc.token)); !slices.Equal(got, tc.plans) {
				t.Fatalf("plans %v, want %v", got, tc.plans)
			}
		})
	}
	t.Run("verdicts and can_approve", func(t *testing.T) {
		for _, tc := range []struct {
			token      string
			canApprove bool
			roles      []string
		}{
			{roleToken(console.RoleControlEngineer), false, []string{"control_engineer"}}, // already approved
			{roleToken(console.RoleManager), true, []string{"operations_manager"}},
			{roleToken(console.RoleAnalyst), false, []string{}},
		} {
			r := list("/api/approvals", tc.token)
			i := slices.IndexFunc(r.Requests, func(it console.ApprovalListItem) bool { return it.PlanID == p.open.ID })
			if i < 0 {
				t.Fatal("open request missing")
			}
			it := r.Requests[i]
			if it.State != "pending" || len(it.Approvals) != 1 || it.Approvals[0].Approver != "user-control_engineer" ||
				it.Step.Quorum != 2 || !it.Deadline.Equal(p.open.CreatedAt.Add(30*time.Minute)) ||
				it.CanApprove != tc.canApprove || !slices.Equal(it.YourRoles, tc.roles) {
				t.Errorf("request %+v; want pending, one approval, can_approve %v, roles %v", it, tc.canApprove, tc.roles)
			}
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, path := range []string{"/api/approvals?limit=0", "/api/approvals?state=all", "/api/approvals?site=a&site=b"} {
			if rec := get(h, path, adminAllToken); rec.Code != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400", path, rec.Code)
			}
		}
	})
}
