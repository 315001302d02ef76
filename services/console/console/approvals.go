package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// ApproverRoles maps the console roles to the approver roles of the
// constraint engine and the playbooks (event.Step.Approvers) that a
// caller holding them may act in. Auditors, analysts, operators and
// admins approve nothing: an approval of a step that touches the process
// is the engineers' and managers' decision.
var ApproverRoles = map[string][]string{
	RoleControlEngineer: {"control_engineer"},
	RoleSafetyEngineer:  {"safety_engineer"},
	RoleManager:         {"operations_manager"},
	RoleISMSOwner:       {"ot_security_lead"},
}

// approvalRoles may use the approval write route (which roles may
// approve a given step is decided per step by ApproverRoles).
var approvalRoles = []string{RoleControlEngineer, RoleSafetyEngineer, RoleManager, RoleISMSOwner}

// ApprovalValidity is how long an approval counts after it is given
// (never past the step's deadline): the quorum must be reached with
// fresh approvals.
const ApprovalValidity = time.Hour

// MaxCommentBytes bounds an approval's comment.
const MaxCommentBytes = 2000

// approvalTimeout bounds one approval's ClickHouse and bus round trips.
const approvalTimeout = 10 * time.Second

// ApprovalRequestBody is the body of POST
// /api/incidents/{id}/plans/{plan}/steps/{step}/approvals. The approver
// and their role come from the authenticated caller, never from the body;
// Role only chooses among the caller's own approver roles for the step.
type ApprovalRequestBody struct {
	// Verdict is approve or reject.
	Verdict string `json:"verdict"`
	// Comment is the approver's reason (optional, at most MaxCommentBytes).
	Comment string `json:"comment"`
	// IncidentVersion is the incident version the approver saw: it must
	// be the plan's.
	IncidentVersion *uint64 `json:"incident_version"`
	// Role is the approver role to act in, required only when the caller
	// holds several of the step's approver roles.
	Role string `json:"role"`
}

// eligibleRoles returns the step approver roles id may act in.
func eligibleRoles(id Identity, step event.Step) []string {
	var out []string
	for _, cr := range id.Roles {
		for _, ar := range ApproverRoles[cr] {
			if slices.Contains(step.Approvers, ar) && !slices.Contains(out, ar) {
				out = append(out, ar)
			}
		}
	}
	slices.Sort(out)
	return out
}

// postApproval serves POST /api/incidents/{id}/plans/{plan}/steps/{step}/approvals:
// it checks the caller's site scope (404 otherwise), that the plan step
// exists and needs approval, that the caller holds one of its approver
// roles (403), that the incident version is the plan's and the plan is the
// newest (409), then publishes the approval on c981.approvals.<site> with
// a deterministic message id and answers 202 with the record. The respond
// stage re-validates and counts it.
func (s *Service) postApproval(w http.ResponseWriter, r *http.Request) {
	if !noQuery(s, w, r) {
		return
	}
	if s.js == nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "the console runs without a bus: approvals are disabled", nil)
		return
	}
	var body ApprovalRequestBody
	if err := decodeStrict(r, &body); err != nil {
		s.writeFail(w, r, err)
		return
	}
	if err := body.validate(); err != nil {
		s.writeFail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), approvalTimeout)
	defer cancel()
	id, _ := IdentityFrom(r.Context())
	ps, err := s.db.GetPlanStep(ctx, r.PathValue("id"), r.PathValue("plan"), r.PathValue("step"))
	if err == nil && !id.CanSee(ps.Plan.Site) {
		// Another site's plan is answered like an unknown one.
		err = query.ErrNotFound
	}
	if errors.Is(err, query.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, "no such plan step of this incident", nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := approvalFor(id, body, ps, time.Now().UTC())
	if err != nil {
		if we, ok := errors.AsType[*writeError](err); ok && we.code == http.StatusForbidden {
			s.metrics.forbidden.Inc()
		}
		s.writeFail(w, r, err)
		return
	}
	data, err := event.Marshal(event.ApprovalBatch{a})
	if err != nil {
		s.fail(w, r, fmt.Errorf("encode approval: %w", err))
		return
	}
	if err := bus.Publish(ctx, s.js, bus.ApprovalsSubject(a.Site), "approval:"+a.ID, 1, data); err != nil {
		s.log.Error("publish approval", "plan", a.PlanID, "step", a.StepID, "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "the approval could not be recorded on the bus; retry later", nil)
		return
	}
	s.log.Info("approval recorded", "incident", a.IncidentID, "version", a.IncidentVersion, "plan", a.PlanID, "step", a.StepID,
		"user", a.Approver, "role", a.Role, "verdict", a.Verdict)
	writeJSON(w, http.StatusAccepted, a)
}

// validate checks the body's own fields (400/422).
func (b ApprovalRequestBody) validate() error {
	if b.Verdict != event.VerdictApprove && b.Verdict != event.VerdictReject {
		return refuse(http.StatusBadRequest, "verdict: want approve or reject")
	}
	if b.IncidentVersion == nil {
		return refuse(http.StatusBadRequest, "incident_version: required (the incident version of the plan you approve)")
	}
	return checkText("comment", b.Comment, MaxCommentBytes, true)
}

// approvalFor builds the approval of id on the plan step, or the refusal:
// 409 for a step that does not need approval, a stale incident version
// or a superseded plan; 403 when id holds none of the step's approver
// roles (or names a role that is not theirs); 400 when id holds several
// and names none. The approval counts until ApprovalValidity after now,
// never past the step's deadline.
func approvalFor(id Identity, body ApprovalRequestBody, ps query.PlanStep, now time.Time) (event.Approval, error) {
	st := ps.Step
	if st.Decision != event.DecisionNeedsApproval {
		return event.Approval{}, refuse(http.StatusConflict, "step %s is %s: it does not wait for approval", st.ID, st.Decision)
	}
	if *body.IncidentVersion != ps.Plan.IncidentVersion {
		return event.Approval{}, refuse(http.StatusConflict, "the plan is for incident version %d, not %d: reload the incident and its plan",
			ps.Plan.IncidentVersion, *body.IncidentVersion)
	}
	if ps.LatestVersion > ps.Plan.IncidentVersion {
		return event.Approval{}, refuse(http.StatusConflict, "the plan was superseded by the plan of incident version %d: approve that one", ps.LatestVersion)
	}
	deadline := event.ApprovalDeadline(ps.Plan.CreatedAt, st)
	if !now.Before(deadline) {
		return event.Approval{}, refuse(http.StatusConflict, "the wait for approval ended at %s: nothing is done to the process", deadline.Format(time.RFC3339))
	}
	roles := eligibleRoles(id, st)
	role := body.Role
	switch {
	case len(roles) == 0:
		return event.Approval{}, refuse(http.StatusForbidden, "step %s needs approval by %s; your roles (%s) cannot give it",
			st.ID, strings.Join(st.Approvers, ", "), strings.Join(id.Roles, ", "))
	case role != "" && !slices.Contains(roles, role):
		return event.Approval{}, refuse(http.StatusForbidden, "role %q is not one of your approver roles for this step (%s)", role, strings.Join(roles, ", "))
	case role == "" && len(roles) > 1:
		return event.Approval{}, refuse(http.StatusBadRequest, "role: you hold several approver roles for this step (%s); name the one you act in", strings.Join(roles, ", "))
	case role == "":
		role = roles[0]
	}
	expires := now.Add(ApprovalValidity)
	if deadline.Before(expires) {
		expires = deadline
	}
	return event.Approval{
		ID:   event.NewID("approval", ps.Plan.ID, st.ID, id.User, role, body.Verdict),
		Site: ps.Plan.Site, PlanID: ps.Plan.ID, IncidentID: ps.Plan.IncidentID, IncidentVersion: ps.Plan.IncidentVersion,
		StepID: st.ID, Approver: id.User, Role: role, Verdict: body.Verdict, Comment: strings.TrimSpace(body.Comment),
		At: now, ExpiresAt: expires,
	}, nil
}

var approvalListParams = []string{"site", "limit"}

// ApprovalsResponse is the body of GET /api/approvals.
type ApprovalsResponse struct {
	// Requests are the open approval requests, newest first.
	Requests []ApprovalListItem `json:"requests"`
}

// ApprovalListItem is one open approval request with whether the caller
// may approve it and in which roles.
type ApprovalListItem struct {
	query.ApprovalRequest
	// CanApprove is true when the caller holds one of the step's approver
	// roles (and has not given a verdict in each of them yet).
	CanApprove bool `json:"can_approve"`
	// YourRoles are the step approver roles the caller may act in.
	YourRoles []string `json:"your_roles"`
}

// listApprovals serves GET /api/approvals?site=&limit=: the steps of the
// caller's sites waiting for approval (pending) or whose wait ended
// (timed_out; still notified), with the verdicts so far.
func (s *Service) listApprovals(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r.URL.RawQuery, approvalListParams)
	id, _ := IdentityFrom(r.Context())
	f := query.ApprovalFilter{Site: p.str("site"), Sites: id.Scope(), Limit: p.limit()}
	if err := p.err(f.Validate()); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	reqs, err := s.db.PendingApprovals(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := ApprovalsResponse{Requests: make([]ApprovalListItem, 0, len(reqs))}
	for _, q := range reqs {
		it := ApprovalListItem{ApprovalRequest: q, YourRoles: eligibleRoles(id, q.Step)}
		if it.YourRoles == nil {
			it.YourRoles = []string{}
		}
		for _, role := range it.YourRoles {
			if !slices.ContainsFunc(q.Approvals, func(v query.Verdict) bool { return v.Approver == id.User && v.Role == role }) {
				it.CanApprove = q.State == query.RequestPending
			}
		}
		out.Requests = append(out.Requests, it)
	}
	writeJSON(w, http.StatusOK, out)
}
