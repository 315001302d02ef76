package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// ErrNoPlanStep: the incident has no plan with that id and step.
var ErrNoPlanStep = errors.New("no such plan step")

// PlanStep is one step of a stored plan with what the approvals route
// checks: the plan (with only this step), the step with its approval
// terms, and the newest incident version that has a plan of the same
// playbook (greater than the plan's when the plan was superseded).
type PlanStep struct {
	Plan event.Plan
	Step event.Step
	// LatestVersion is the newest incident version planned by the same
	// playbook.
	LatestVersion uint64
}

const planStepSQL = `SELECT
	plan_id, incident_id, incident_version, site, playbook_id, playbook_title,
	created_at, created_ms, step_index, step_id, kind, action, class, audience,
	text, decision, reason, approvers, automatic, quorum, timeout_s
FROM actions
WHERE incident_id = toUUID(?) AND plan_id = toUUID(?) AND step_id = ?
ORDER BY created_at, created_ms
LIMIT 1`

const latestPlanSQL = `SELECT max(incident_version)
FROM actions
WHERE site = ? AND incident_id = toUUID(?) AND playbook_id = ?`

// stepRow is the scanned form of a planStepSQL / pendingSQL row.
type stepRow struct {
	p          event.Plan
	s          event.Step
	createdSec int64
	createdMs  uint16
	stepIndex  uint16
	automatic  uint8
	quorum     uint8
	timeout    uint32
}

func (r *stepRow) dest() []any {
	return []any{&r.p.ID, &r.p.IncidentID, &r.p.IncidentVersion, &r.p.Site, &r.p.PlaybookID, &r.p.PlaybookTitle,
		&r.createdSec, &r.createdMs, &r.stepIndex, &r.s.ID, &r.s.Kind, &r.s.Action, &r.s.Class, &r.s.Audience,
		&r.s.Text, &r.s.Decision, &r.s.Reason, &r.s.Approvers, &r.automatic, &r.quorum, &r.timeout}
}

func (r *stepRow) planStep() (event.Plan, event.Step) {
	r.p.CreatedAt = stamp(r.createdSec, r.createdMs)
	r.s.Index, r.s.Automatic, r.s.Quorum, r.s.TimeoutSeconds = int(r.stepIndex), r.automatic != 0, int(r.quorum), int(r.timeout)
	if len(r.s.Approvers) == 0 {
		r.s.Approvers = nil
	}
	r.p.Steps = []event.Step{r.s}
	return r.p, r.s
}

// GetPlanStep returns step stepID of plan planID of incident incidentID
// (UUIDs), with the newest incident version planned by the same playbook.
// It returns InvalidParams for malformed ids and ErrNotFound (wrapping
// ErrNoPlanStep) when there is no such plan step.
func (db *DB) GetPlanStep(ctx context.Context, incidentID, planID, stepID string) (PlanStep, error) {
	incidentID, planID = strings.ToLower(incidentID), strings.ToLower(planID)
	var bad InvalidParams
	if !ValidID(incidentID) {
		bad = append(bad, ParamError{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"})
	}
	if !ValidID(planID) {
		bad = append(bad, ParamError{"plan", "must be a UUID (8-4-4-4-12 hexadecimal digits)"})
	}
	if stepID == "" || len(stepID) > 200 {
		bad = append(bad, ParamError{"step", "must be a step id of the plan (1 to 200 bytes)"})
	}
	if len(bad) > 0 {
		return PlanStep{}, bad
	}
	ctx = withDeadline(ctx)
	rows, err := db.conn.Query(ctx, planStepSQL, incidentID, planID, stepID)
	if err != nil {
		return PlanStep{}, fmt.Errorf("plan step %s/%s: %w", planID, stepID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return PlanStep{}, fmt.Errorf("plan step %s/%s: %w", planID, stepID, err)
		}
		return PlanStep{}, fmt.Errorf("plan step %s/%s: %w: %w", planID, stepID, ErrNotFound, ErrNoPlanStep)
	}
	var r stepRow
	if err := rows.Scan(r.dest()...); err != nil {
		return PlanStep{}, fmt.Errorf("plan step %s/%s: scan: %w", planID, stepID, err)
	}
	var ps PlanStep
	ps.Plan, ps.Step = r.planStep()
	if err := rows.Close(); err != nil {
		return PlanStep{}, fmt.Errorf("plan step %s/%s: %w", planID, stepID, err)
	}
	if err := db.conn.QueryRow(ctx, latestPlanSQL, ps.Plan.Site, incidentID, ps.Plan.PlaybookID).Scan(&ps.LatestVersion); err != nil {
		return PlanStep{}, fmt.Errorf("latest plan of incident %s: %w", incidentID, err)
	}
	return ps, nil
}

// ApprovalFilter selects the approval requests of GET /api/approvals.
type ApprovalFilter struct {
	// Site restricts to one site ("" = every site the caller may see).
	Site string
	// Sites, when not nil, restricts to these sites (authorization scope).
	Sites []string
	// Since bounds how old a plan may be (zero: 30 days before Now).
	Since time.Time
	// Now is the time the states are computed at (zero: time.Now()).
	Now time.Time
	// Limit caps the requests returned (default DefaultLimit, at most
	// MaxLimit).
	Limit int
}

// Validate checks the filter.
func (f ApprovalFilter) Validate() error {
	var bad InvalidParams
	if f.Limit < 0 || f.Limit > MaxLimit {
		bad = append(bad, ParamError{"limit", fmt.Sprintf("must be an integer between 1 and %d", MaxLimit)})
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// States of an approval request as GET /api/approvals reports them.
const (
	RequestPending  = "pending"
	RequestTimedOut = "timed_out"
)

// Verdict is one approval or rejection recorded in the audit trail.
type Verdict struct {
	// Approver is the person, Role the approver role they acted in.
	Approver string `json:"approver"`
	Role     string `json:"role"`
	// Verdict is approve or reject.
	Verdict string    `json:"verdict"`
	At      time.Time `json:"at"`
}

// ApprovalRequest is a plan step waiting for approval (pending) or whose
// wait ended without the quorum (timed_out: nothing is done to the
// process, people keep being notified).
type ApprovalRequest struct {
	Site            string `json:"site"`
	IncidentID      string `json:"incident_id"`
	IncidentVersion uint64 `json:"incident_version"`
	PlanID          string `json:"plan_id"`
	PlaybookID      string `json:"playbook_id"`
	PlaybookTitle   string `json:"playbook_title"`
	// Step is the step with its class, plain-language text, the engine's
	// reason, the approver roles and the quorum of distinct people.
	Step event.Step `json:"step"`
	// OpenedAt is when the plan was made; Deadline when the wait ends.
	OpenedAt time.Time `json:"opened_at"`
	Deadline time.Time `json:"deadline"`
	// State is pending or timed_out.
	State string `json:"state"`
	// Approvals are the verdicts recorded so far, oldest first.
	Approvals []Verdict `json:"approvals"`
}

// pendingSQL reads the needs_approval steps of the newest plan of every
// (incident, playbook) created since ?; the site condition is inserted.
const pendingSQL = `SELECT
	plan_id, incident_id, incident_version, site, playbook_id, playbook_title,
	created_at, created_ms, step_index, step_id, kind, action, class, audience,
	text, decision, reason, approvers, automatic, quorum, timeout_s
FROM actions
WHERE decision = 'needs_approval' AND created_at >= ? %s
	AND (incident_id, playbook_id, incident_version) IN (
		SELECT incident_id, playbook_id, max(incident_version) FROM actions WHERE created_at >= ? %s GROUP BY incident_id, playbook_id)
ORDER BY created_at DESC, created_ms DESC, plan_id, step_index
LIMIT 1 BY plan_id, step_index
LIMIT ?`

// verdictsSQL reads the approval and request-state audit records of
// plans: approvals (kind approval), executions of approved steps (kind
// action) and request states (kind request: approved, rejected,
// superseded, timed_out).
const verdictsSQL = `SELECT plan_id, step_id, kind, actor, actor_role, result, time
FROM audit
WHERE site = ? AND has(?, plan_id) AND kind IN ('approval', 'action', 'request')
ORDER BY seq
LIMIT 1 BY site, seq`

// maxRequestScan bounds the steps read before the closed ones are dropped.
const maxRequestScan = 5000

// PendingApprovals returns the open approval requests (pending, or timed
// out and still notified) of the caller's sites, newest first: the
// needs_approval steps of the newest plan of each incident and playbook
// that were neither rejected nor approved and run, with the verdicts so
// far from the audit trail.
func (db *DB) PendingApprovals(ctx context.Context, f ApprovalFilter) ([]ApprovalRequest, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Sites != nil && (len(f.Sites) == 0 || (f.Site != "" && !slices.Contains(f.Sites, f.Site))) {
		return []ApprovalRequest{}, nil
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	since := f.Since
	if since.IsZero() {
		since = now.Add(-30 * 24 * time.Hour)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	cond, args := "", []any{since.UTC()}
	var condArgs []any
	switch {
	case f.Site != "":
		cond, condArgs = "AND site = ?", []any{f.Site}
	case f.Sites != nil:
		cond, condArgs = "AND has(?, site)", []any{f.Sites}
	}
	args = append(args, condArgs...)
	args = append(args, since.UTC())
	args = append(args, condArgs...)
	args = append(args, maxRequestScan)
	ctx = withDeadline(ctx)
	rows, err := db.conn.Query(ctx, fmt.Sprintf(pendingSQL, cond, cond), args...)
	if err != nil {
		return nil, fmt.Errorf("pending approvals: %w", err)
	}
	var reqs []ApprovalRequest
	for rows.Next() {
		var r stepRow
		if err := rows.Scan(r.dest()...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pending approvals: scan: %w", err)
		}
		p, s := r.planStep()
		reqs = append(reqs, ApprovalRequest{Site: p.Site, IncidentID: p.IncidentID, IncidentVersion: p.IncidentVersion,
			PlanID: p.ID, PlaybookID: p.PlaybookID, PlaybookTitle: p.PlaybookTitle, Step: s,
			OpenedAt: p.CreatedAt, Deadline: event.ApprovalDeadline(p.CreatedAt, s), Approvals: []Verdict{}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending approvals: %w", err)
	}
	if err := db.verdicts(ctx, reqs); err != nil {
		return nil, err
	}
	out := []ApprovalRequest{}
	for _, r := range reqs {
		if r.State == "" {
			continue // closed: rejected, run, superseded
		}
		if !now.Before(r.Deadline) {
			r.State = RequestTimedOut
		}
		out = append(out, r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// verdicts fills the approvals and states of reqs from the audit trail:
// State stays "" for a closed request (a rejection, an execution record,
// a superseded request), else pending or timed_out.
func (db *DB) verdicts(ctx context.Context, reqs []ApprovalRequest) error {
	bySite := map[string][]string{}
	index := map[[2]string]int{}
	for i := range reqs {
		r := &reqs[i]
		r.State = RequestPending
		if !slices.Contains(bySite[r.Site], r.PlanID) {
			bySite[r.Site] = append(bySite[r.Site], r.PlanID)
		}
		index[[2]string{r.PlanID, r.Step.ID}] = i
	}
	sites := make([]string, 0, len(bySite))
	for s := range bySite {
		sites = append(sites, s)
	}
	slices.Sort(sites)
	for _, site := range sites {
		rows, err := db.conn.Query(ctx, verdictsSQL, site, bySite[site])
		if err != nil {
			return fmt.Errorf("approval verdicts of %s: %w", site, err)
		}
		for rows.Next() {
			var (
				planID, stepID, kind, actor, role, result string
				at                                        time.Time
			)
			if err := rows.Scan(&planID, &stepID, &kind, &actor, &role, &result, &at); err != nil {
				rows.Close()
				return fmt.Errorf("approval verdicts of %s: scan: %w", site, err)
			}
			i, ok := index[[2]string{planID, stepID}]
			if !ok {
				continue
			}
			r := &reqs[i]
			switch kind {
			case "approval":
				r.Approvals = append(r.Approvals, Verdict{Approver: actor, Role: role, Verdict: result, At: at.UTC()})
				if result == event.VerdictReject && !at.Before(r.OpenedAt) && at.Before(r.Deadline) && slices.Contains(r.Step.Approvers, role) {
					r.State = ""
				}
			case "action":
				r.State = "" // the approved step was run (or handed to a person)
			case "request":
				if result != RequestTimedOut {
					r.State = "" // approved, rejected or superseded
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("approval verdicts of %s: %w", site, err)
		}
	}
	return nil
}
