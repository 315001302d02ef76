package event

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file approval.go -o approval_gen.go -tests=false

//msgp:tag json
//msgp:timezone utc

import "time"

// Verdicts of an Approval.
const (
	VerdictApprove = "approve"
	VerdictReject  = "reject"
)

// Approval is one person's verdict on one step of a response plan that
// needs approval. The console publishes it on c981.approvals.<site> (one
// record per message, an ApprovalBatch of one) with the approver's
// identity and role taken from the authenticated caller, never from the
// request body; the respond stage re-validates it against the plan, keeps
// it with the other approvals of the step and runs the step once the
// quorum of distinct people approved in time.
type Approval struct {
	// ID is deterministic (NewID of plan, step, approver, role, verdict and
	// time), so a retried publish is deduplicated.
	ID string `json:"id" expr:"id"`
	// Site is the plan's site (the subject token).
	Site string `json:"site" expr:"site"`
	// PlanID, IncidentID, IncidentVersion and StepID bind the verdict to
	// exactly one step of one plan of one incident version.
	PlanID          string `json:"plan_id" expr:"plan_id"`
	IncidentID      string `json:"incident_id" expr:"incident_id"`
	IncidentVersion uint64 `json:"incident_version" expr:"incident_version"`
	StepID          string `json:"step_id" expr:"step_id"`
	// Approver is the person's identity (user id), Role the role they act in.
	Approver string `json:"approver" expr:"approver"`
	Role     string `json:"role" expr:"role"`
	// Verdict is approve or reject.
	Verdict string `json:"verdict" expr:"verdict"`
	// Comment is the approver's free text.
	Comment string `json:"comment,omitempty" expr:"comment"`
	// At is when it was given; ExpiresAt when it stops counting.
	At        time.Time `json:"at" expr:"at"`
	ExpiresAt time.Time `json:"expires_at" expr:"expires_at"`
}

// ApprovalBatch is the bus encoding of approvals (see Marshal).
type ApprovalBatch []Approval

// DefaultApprovalTimeout bounds the wait for approval of a step whose
// playbook sets no timeout (Step.TimeoutSeconds 0): a request never stays
// open for ever.
const DefaultApprovalTimeout = 4 * time.Hour

// ApprovalDeadline is when the wait for approval of step of a plan created
// at created ends.
func ApprovalDeadline(created time.Time, step Step) time.Time {
	d := time.Duration(step.TimeoutSeconds) * time.Second
	if d <= 0 {
		d = DefaultApprovalTimeout
	}
	return created.Add(d)
}
