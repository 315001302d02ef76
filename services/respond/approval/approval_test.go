package approval

import (
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/c981/c981/services/shared/event"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testPlan() event.Plan {
	return event.Plan{
		ID: "plan-1", IncidentID: "inc-1", IncidentVersion: 3, Site: "s", PlaybookID: "PB", CreatedAt: t0,
		Steps: []event.Step{
			{Index: 1, ID: "notify", Decision: event.DecisionAllowed},
			{Index: 2, ID: "restore", Decision: event.DecisionNeedsApproval, Quorum: 2, TimeoutSeconds: 1800,
				Approvers: []string{"control_engineer", "operations_manager"}},
			{Index: 3, ID: "open-ended", Decision: event.DecisionNeedsApproval, Quorum: 1, Approvers: []string{"ot_security_lead"}},
		},
	}
}

func ok(person, role string, at time.Duration) Approval {
	return Approval{PlanID: "plan-1", IncidentID: "inc-1", IncidentVersion: 3, StepID: "restore",
		Approver: person, Role: role, Verdict: VerdictApprove, At: t0.Add(at), ExpiresAt: t0.Add(at + time.Hour)}
}

func TestEvaluate(t *testing.T) {
	req, err := RequestFor(testPlan(), "restore")
	if err != nil {
		t.Fatal(err)
	}
	stale := ok("bob", "operations_manager", time.Minute)
	stale.IncidentVersion = 2
	otherStep := ok("bob", "operations_manager", time.Minute)
	otherStep.StepID = "notify"
	reject := ok("carol", "control_engineer", 2*time.Minute)
	reject.Verdict = VerdictReject
	short := ok("bob", "operations_manager", time.Minute)
	short.ExpiresAt = t0.Add(3 * time.Minute)
	tests := []struct {
		name      string
		approvals []Approval
		now       time.Duration
		state     string
		run       bool
		missing   []string
	}{
		{"nobody yet", nil, 5 * time.Minute, StatePending, false, []string{"control_engineer", "operations_manager"}},
		{"two distinct people with the right roles", []Approval{ok("alice", "control_engineer", time.Minute), ok("bob", "operations_manager", 2*time.Minute)}, 5 * time.Minute, StateApproved, true, nil},
		{"one person in both roles is not two approvers", []Approval{ok("alice", "control_engineer", time.Minute), ok("alice", "operations_manager", 2*time.Minute)}, 5 * time.Minute, StatePending, false, []string{"operations_manager"}},
		{"wrong role does not count", []Approval{ok("alice", "control_engineer", time.Minute), ok("bob", "soc_analyst", time.Minute)}, 5 * time.Minute, StatePending, false, []string{"operations_manager"}},
		{"approval for an older incident version does not count", []Approval{ok("alice", "control_engineer", time.Minute), stale}, 5 * time.Minute, StatePending, false, []string{"operations_manager"}},
		{"approval for another step does not count", []Approval{ok("alice", "control_engineer", time.Minute), otherStep}, 5 * time.Minute, StatePending, false, []string{"operations_manager"}},
		{"expired approval does not count", []Approval{ok("alice", "control_engineer", time.Minute), short}, 5 * time.Minute, StatePending, false, []string{"operations_manager"}},
		{"rejection wins", []Approval{ok("alice", "control_engineer", time.Minute), ok("bob", "operations_manager", time.Minute), reject}, 5 * time.Minute, StateRejected, false, nil},
		{"timeout means do nothing", []Approval{ok("alice", "control_engineer", time.Minute)}, 31 * time.Minute, StateTimedOut, false, []string{"operations_manager"}},
		{"approvals complete only after the deadline are too late", []Approval{ok("alice", "control_engineer", time.Minute), ok("bob", "operations_manager", 30*time.Minute)}, 31 * time.Minute, StateTimedOut, false, []string{"operations_manager"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Evaluate(req, tc.approvals, t0.Add(tc.now))
			if st.State != tc.state || st.Run != tc.run || !slices.Equal(st.Missing, tc.missing) || st.Reason == "" {
				t.Fatalf("Evaluate = %+v, want state %s run %v missing %v", st, tc.state, tc.run, tc.missing)
			}
			if !st.Run && !st.KeepNotifying {
				t.Fatalf("a step that does not run must keep notifying: %+v", st)
			}
		})
	}
}

func TestRequestFor(t *testing.T) {
	if _, err := RequestFor(testPlan(), "notify"); err == nil || !strings.Contains(err.Error(), "not needs_approval") {
		t.Errorf("allowed step: err = %v", err)
	}
	if _, err := RequestFor(testPlan(), "nope"); err == nil {
		t.Error("unknown step accepted")
	}
	r, err := RequestFor(testPlan(), "open-ended")
	if err != nil || !r.Deadline.Equal(t0.Add(DefaultTimeout)) {
		t.Errorf("step without timeout: %+v, %v; want the default deadline", r, err)
	}
}

// approvalCase is a random set of approvals against the restore request.
type approvalCase struct {
	Approvals []Approval
	Now       time.Duration
}

// Generate implements quick.Generator.
func (approvalCase) Generate(r *rand.Rand, _ int) reflect.Value {
	people := []string{"alice", "bob", "carol", ""}
	roles := []string{"control_engineer", "operations_manager", "safety_engineer"}
	n := r.Intn(6)
	c := approvalCase{Now: time.Duration(r.Intn(40)) * time.Minute}
	for range n {
		at := time.Duration(r.Intn(35)-2) * time.Minute
		a := ok(people[r.Intn(len(people))], roles[r.Intn(len(roles))], at)
		if r.Intn(8) == 0 {
			a.Verdict = VerdictReject
		}
		if r.Intn(6) == 0 {
			a.IncidentVersion = uint64(r.Intn(5))
		}
		if r.Intn(6) == 0 {
			a.ExpiresAt = a.At.Add(time.Duration(r.Intn(20)) * time.Minute)
		}
		c.Approvals = append(c.Approvals, a)
	}
	return reflect.ValueOf(c)
}

// TestPropertyApprovals proves over random approvals: a step runs only
// with distinct people covering every role and the quorum, all bound to
// the plan's incident version and step, unexpired and before the deadline;
// after the deadline it never runs and notification continues; any valid
// rejection stops it.
func TestPropertyApprovals(t *testing.T) {
	req, err := RequestFor(testPlan(), "restore")
	if err != nil {
		t.Fatal(err)
	}
	prop := func(c approvalCase) bool {
		now := t0.Add(c.Now)
		st := Evaluate(req, c.Approvals, now)
		var valid []Approval
		rejected := false
		for _, a := range c.Approvals {
			good := a.IncidentVersion == 3 && a.Approver != "" && slices.Contains(req.Approvers, a.Role) &&
				!a.At.Before(t0) && a.At.Before(req.Deadline) && a.ExpiresAt.After(a.At) && now.Before(a.ExpiresAt)
			if !good {
				continue
			}
			if a.Verdict == VerdictReject {
				rejected = true
			}
			valid = append(valid, a)
		}
		// Brute force: is there a distinct person per role?
		covered := false
		for _, x := range valid {
			for _, y := range valid {
				if x.Approver != y.Approver && x.Role == "control_engineer" && y.Role == "operations_manager" {
					covered = true
				}
			}
		}
		want := StatePending
		switch {
		case rejected:
			want = StateRejected
		case covered && now.Before(req.Deadline):
			want = StateApproved
		case !now.Before(req.Deadline):
			want = StateTimedOut
		}
		if st.State != want || st.Run != (want == StateApproved) || st.KeepNotifying == st.Run {
			t.Errorf("Evaluate(%+v, now+%s) = %+v, want %s", c.Approvals, c.Now, st, want)
			return false
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 20000, Rand: rand.New(rand.NewSource(8))}); err != nil {
		t.Fatal(err)
	}
}
