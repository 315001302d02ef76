package approval

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// Verdicts an approver gives (event.Verdict*).
const (
	VerdictApprove = event.VerdictApprove
	VerdictReject  = event.VerdictReject
)

// DefaultTimeout bounds the wait for a step whose playbook sets no timeout:
// an approval request never stays open for ever.
const DefaultTimeout = event.DefaultApprovalTimeout

// States of a request.
const (
	// StatePending waits for more approvals before the deadline.
	StatePending = "pending"
	// StateApproved: the quorum approved in time; the step may run.
	StateApproved = "approved"
	// StateRejected: someone with an approver role rejected; nothing is done.
	StateRejected = "rejected"
	// StateTimedOut: the deadline passed without the quorum; nothing is done
	// to the process and notification continues.
	StateTimedOut = "timed_out"
)

// Request is a step waiting for approval, bound to one plan (and so to one
// incident version).
type Request struct {
	PlanID          string
	IncidentID      string
	IncidentVersion uint64
	StepID          string
	// Approvers are the roles that must each approve with a distinct person.
	Approvers []string
	// Quorum is the minimum number of distinct people.
	Quorum int
	// OpenedAt is when the plan was created; Deadline when the wait ends.
	OpenedAt time.Time
	Deadline time.Time
}

// RequestFor builds the request of a needs_approval step of plan.
func RequestFor(plan event.Plan, stepID string) (Request, error) {
	i := slices.IndexFunc(plan.Steps, func(s event.Step) bool { return s.ID == stepID })
	if i < 0 {
		return Request{}, fmt.Errorf("plan %s has no step %q", plan.ID, stepID)
	}
	st := plan.Steps[i]
	if st.Decision != event.DecisionNeedsApproval {
		return Request{}, fmt.Errorf("plan %s step %s is %s, not needs_approval", plan.ID, stepID, st.Decision)
	}
	timeout := time.Duration(st.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return Request{
		PlanID:          plan.ID,
		IncidentID:      plan.IncidentID,
		IncidentVersion: plan.IncidentVersion,
		StepID:          st.ID,
		Approvers:       slices.Clone(st.Approvers),
		Quorum:          max(st.Quorum, len(st.Approvers), 1),
		OpenedAt:        plan.CreatedAt,
		Deadline:        plan.CreatedAt.Add(timeout),
	}, nil
}

// Approval is one person's verdict on one step: the shared bus record
// event.Approval (published by the console on c981.approvals.<site>).
type Approval = event.Approval

// Check reports why a does not count for r, or nil: it must bind to the
// same plan, incident, version and step, name a person and one of the
// step's roles, be given between the plan's creation and the deadline, and
// not be expired at now.
func (r Request) Check(a Approval, now time.Time) error {
	var errs []error
	if a.PlanID != r.PlanID || a.IncidentID != r.IncidentID || a.StepID != r.StepID {
		errs = append(errs, fmt.Errorf("bound to plan %s incident %s step %s, not plan %s incident %s step %s",
			a.PlanID, a.IncidentID, a.StepID, r.PlanID, r.IncidentID, r.StepID))
	}
	if a.IncidentVersion != r.IncidentVersion {
		errs = append(errs, fmt.Errorf("given for incident version %d; the plan is for version %d", a.IncidentVersion, r.IncidentVersion))
	}
	if strings.TrimSpace(a.Approver) == "" {
		errs = append(errs, errors.New("no approver identity"))
	}
	if !slices.Contains(r.Approvers, a.Role) {
		errs = append(errs, fmt.Errorf("role %q is not one of %s", a.Role, strings.Join(r.Approvers, ", ")))
	}
	if a.Verdict != VerdictApprove && a.Verdict != VerdictReject {
		errs = append(errs, fmt.Errorf("verdict %q is not approve or reject", a.Verdict))
	}
	if a.At.Before(r.OpenedAt) || !a.At.Before(r.Deadline) {
		errs = append(errs, fmt.Errorf("given at %s, outside the request's %s..%s", a.At.Format(time.RFC3339), r.OpenedAt.Format(time.RFC3339), r.Deadline.Format(time.RFC3339)))
	}
	if !a.ExpiresAt.After(a.At) || !now.Before(a.ExpiresAt) {
		errs = append(errs, fmt.Errorf("expired at %s", a.ExpiresAt.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Status is the outcome of a request at one moment.
type Status struct {
	State string
	// Run is true only when the step may now be performed (approved).
	Run bool
	// KeepNotifying is true while people must still be told: pending,
	// timed out and rejected requests keep the incident in front of them.
	KeepNotifying bool
	// People are the distinct approvers that counted (approve verdicts).
	People []string
	// Missing are the roles not yet covered by a distinct person.
	Missing []string
	// Ignored explains every approval that did not count.
	Ignored []string
	// Reason says in plain language why.
	Reason string
}

// Evaluate decides the request at now from the approvals given so far. A
// valid rejection wins; otherwise the request is approved when distinct
// people cover every role and reach the quorum; otherwise it is pending
// until the deadline and timed out after it - and a timed-out step is
// never run.
func Evaluate(r Request, approvals []Approval, now time.Time) Status {
	var st Status
	byPerson := map[string][]string{} // person -> roles they approved in
	var people []string
	for _, a := range approvals {
		if err := r.Check(a, now); err != nil {
			st.Ignored = append(st.Ignored, fmt.Sprintf("%s (%s): %v", a.Approver, a.Role, err))
			continue
		}
		if a.Verdict == VerdictReject {
			return Status{State: StateRejected, KeepNotifying: true, Ignored: st.Ignored,
				Reason: fmt.Sprintf("rejected by %s (%s): nothing is done to the process", a.Approver, a.Role)}
		}
		if _, ok := byPerson[a.Approver]; !ok {
			people = append(people, a.Approver)
		}
		if !slices.Contains(byPerson[a.Approver], a.Role) {
			byPerson[a.Approver] = append(byPerson[a.Approver], a.Role)
		}
	}
	slices.Sort(people)
	st.People = people
	st.Missing = uncovered(r.Approvers, people, byPerson)
	if len(st.Missing) == 0 && len(people) >= r.Quorum && now.Before(r.Deadline) {
		st.State, st.Run = StateApproved, true
		st.Reason = fmt.Sprintf("approved by %d distinct people: %s", len(people), strings.Join(people, ", "))
		return st
	}
	st.KeepNotifying = true
	need := fmt.Sprintf("%d of %d distinct approvers", len(people), r.Quorum)
	if len(st.Missing) > 0 {
		need += "; missing " + strings.Join(st.Missing, ", ")
	}
	if !now.Before(r.Deadline) {
		st.State = StateTimedOut
		st.Reason = "approval timed out at " + r.Deadline.Format(time.RFC3339) + " with " + need + ": nothing is done to the process; notification continues"
		return st
	}
	st.State = StatePending
	st.Reason = "waiting until " + r.Deadline.Format(time.RFC3339) + ": " + need
	return st
}

// uncovered returns the roles that cannot each be given a distinct person
// (a maximum bipartite matching of roles to people; one person covers at
// most one role, however many roles they hold).
func uncovered(roles, people []string, byPerson map[string][]string) []string {
	owner := map[string]string{} // person -> role assigned
	var try func(role string, seen map[string]bool) bool
	try = func(role string, seen map[string]bool) bool {
		for _, p := range people {
			if seen[p] || !slices.Contains(byPerson[p], role) {
				continue
			}
			seen[p] = true
			if cur, ok := owner[p]; !ok || try(cur, seen) {
				owner[p] = role
				return true
			}
		}
		return false
	}
	var missing []string
	for _, role := range roles {
		if !try(role, map[string]bool{}) {
			missing = append(missing, role)
		}
	}
	return missing
}
