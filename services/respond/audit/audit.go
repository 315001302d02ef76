package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/c981/c981/services/respond/approval"
	"github.com/c981/c981/services/respond/executor"
	"github.com/c981/c981/services/shared/event"
)

// Genesis is the prev_hash of a site's first record.
var Genesis = strings.Repeat("0", 64)

// Record kinds.
const (
	KindDecision = "decision"
	KindAction   = "action"
	KindApproval = "approval"
	// KindRenotify records that a request still waiting for approval (or
	// timed out) was notified again.
	KindRenotify = "renotify"
	// KindRequest records a change of an approval request's state that no
	// person caused: timed out, superseded by a newer plan.
	KindRequest = "request"
)

// ActorRespond is the actor of the respond stage's own records.
const ActorRespond = "c981/respond"

// Record is one audit entry.
type Record struct {
	// ID is deterministic from what the record is about (kind, plan, step,
	// actor, result), so a redelivered input produces the same id.
	ID   string `json:"id"`
	Site string `json:"site"`
	// Seq is the record's 1-based position in the site's chain.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is who: the respond stage or a person's identity; ActorRole
	// the role they acted in.
	Actor     string `json:"actor"`
	ActorRole string `json:"actor_role,omitempty"`
	// Kind is decision, action or approval.
	Kind string `json:"kind"`
	// What, Why and Result: the step or action, the reason, and the
	// constraint decision or action status.
	What   string `json:"what"`
	Why    string `json:"why"`
	Result string `json:"result"`
	// The incident version, plan and step the record is about.
	IncidentID      string `json:"incident_id,omitempty"`
	IncidentVersion uint64 `json:"incident_version,omitempty"`
	PlanID          string `json:"plan_id,omitempty"`
	StepID          string `json:"step_id,omitempty"`
	// InputsHash is the SHA-256 of the canonical JSON of the inputs the
	// decision was made on (incident version and step).
	InputsHash string `json:"inputs_hash"`
	// PrevHash is the previous record's Hash (Genesis for the first) and
	// Hash this record's.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash,omitempty"`
}

// Canonical returns the canonical JSON of r without its hash: the fields
// in declaration order, times in UTC RFC 3339 with nanoseconds - the bytes
// encoding/json's json.Marshal writes for the record (written without
// reflection, see appendRecord).
func Canonical(r Record) ([]byte, error) {
	r.Hash = ""
	r.Time = r.Time.UTC()
	return appendRecord(make([]byte, 0, 512), &r)
}

// ComputeHash returns hex(sha256(Canonical(r) || r.PrevHash)).
func ComputeHash(r Record) (string, error) {
	r.Hash = ""
	r.Time = r.Time.UTC()
	var buf [1024]byte
	c, err := appendRecord(buf[:0], &r)
	if err != nil {
		return "", fmt.Errorf("audit: canonical json: %w", err)
	}
	sum := sha256.Sum256(append(c, r.PrevHash...))
	return hex.EncodeToString(sum[:]), nil
}

// Seal links r after prev (nil for the first record of a site): it sets
// Seq, PrevHash and Hash.
func Seal(r Record, prev *Record) (Record, error) {
	r.Time = r.Time.UTC()
	if prev == nil {
		r.Seq, r.PrevHash = 1, Genesis
	} else {
		if prev.Site != r.Site {
			return r, fmt.Errorf("audit: record of site %q after a record of site %q", r.Site, prev.Site)
		}
		r.Seq, r.PrevHash = prev.Seq+1, prev.Hash
	}
	h, err := ComputeHash(r)
	if err != nil {
		return r, err
	}
	r.Hash = h
	return r, nil
}

// Break is the first broken link of a chain.
type Break struct {
	// Index is the position in the verified slice, Seq the record's
	// claimed sequence number.
	Index  int
	Seq    uint64
	Reason string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain broken at record %d (seq %d): %s", b.Index+1, b.Seq, b.Reason)
}

// Verify checks a site's chain from its first record: every record of the
// same site, sequence numbers 1, 2, 3, ..., each prev_hash the previous
// hash (Genesis first) and each hash recomputed. It returns the first
// broken link, or nil.
func Verify(records []Record) *Break {
	prevHash := Genesis
	for i, r := range records {
		brk := func(format string, args ...any) *Break {
			return &Break{Index: i, Seq: r.Seq, Reason: fmt.Sprintf(format, args...)}
		}
		if i > 0 && r.Site != records[0].Site {
			return brk("site %q in the chain of %q", r.Site, records[0].Site)
		}
		if r.Seq != uint64(i+1) {
			return brk("sequence %d where %d was expected (a record was deleted, inserted or reordered)", r.Seq, i+1)
		}
		if r.PrevHash != prevHash {
			return brk("prev_hash %.12s... does not match the previous record's hash %.12s...", r.PrevHash, prevHash)
		}
		h, err := ComputeHash(r)
		if err != nil {
			return brk("%v", err)
		}
		if h != r.Hash {
			return brk("hash %.12s... does not match the content (recomputed %.12s...): the record was modified", r.Hash, h)
		}
		prevHash = r.Hash
	}
	return nil
}

// HashInputs returns the hex SHA-256 of the JSON of v.
func HashInputs(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("audit: hash inputs: %w", err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
}

// Decisions returns one unsealed decision record per step of plan, made on
// inc at now by the respond stage. Each record's InputsHash is
// HashInputs of {"incident": inc, "playbook": plan's playbook id, "step":
// the step without the engine's answer}; the incident's JSON is written
// once per plan, not once per step.
func Decisions(inc event.Incident, plan event.Plan, now time.Time) ([]Record, error) {
	incJSON, err := json.Marshal(inc)
	if err != nil {
		return nil, fmt.Errorf("audit: hash inputs: %w", err)
	}
	// {"incident":<inc>,"playbook":<id>,"step":<step>}: what json.Marshal
	// writes for the struct of the three.
	prefix := append([]byte(`{"incident":`), incJSON...)
	prefix = append(prefix, `,"playbook":`...)
	prefix = appendString(prefix, plan.PlaybookID)
	prefix = append(prefix, `,"step":`...)
	out := make([]Record, 0, len(plan.Steps))
	for _, st := range plan.Steps {
		stJSON, err := json.Marshal(stepInput(st))
		if err != nil {
			return nil, fmt.Errorf("audit: hash inputs: %w", err)
		}
		h := sha256.New()
		h.Write(prefix)
		h.Write(stJSON)
		h.Write([]byte{'}'})
		ih := hex.EncodeToString(h.Sum(nil))
		what := plan.PlaybookID + "/" + st.ID + " (" + st.Kind
		if st.Action != "" {
			what += " " + st.Action
		}
		what += ")"
		if st.Automatic {
			what += " automatic"
		}
		out = append(out, Record{
			ID:   event.NewID("audit", KindDecision, plan.ID, st.ID),
			Site: plan.Site, Time: now.UTC(), Actor: ActorRespond, Kind: KindDecision,
			What: what, Why: st.Reason, Result: st.Decision,
			IncidentID: plan.IncidentID, IncidentVersion: plan.IncidentVersion, PlanID: plan.ID, StepID: st.ID,
			InputsHash: ih,
		})
	}
	return out, nil
}

// stepInput is the playbook's side of a step (what the engine was asked),
// without the engine's answer.
func stepInput(st event.Step) event.Step {
	st.Decision, st.Reason, st.Quorum, st.Approvers = "", "", 0, nil
	return st
}

// Actions returns one unsealed action record per executor outcome of plan
// (steps that were not automatic are left out: their decision record says
// why).
func Actions(plan event.Plan, outcomes []executor.Outcome) ([]Record, error) {
	var out []Record
	for _, o := range outcomes {
		if o.Status == executor.StatusNotAutomatic {
			continue
		}
		ih, err := HashInputs(struct {
			PlanID string `json:"plan_id"`
			StepID string `json:"step_id"`
			Action string `json:"action"`
		}{plan.ID, o.StepID, o.Action})
		if err != nil {
			return nil, err
		}
		actor := ActorRespond
		if o.Executor != "" {
			actor += "/" + o.Executor
		}
		out = append(out, Record{
			ID:   event.NewID("audit", KindAction, plan.ID, o.StepID, o.Status),
			Site: plan.Site, Time: o.At.UTC(), Actor: actor, Kind: KindAction,
			What: plan.PlaybookID + "/" + o.StepID + " " + o.Action, Why: o.Detail, Result: o.Status,
			IncidentID: plan.IncidentID, IncidentVersion: plan.IncidentVersion, PlanID: plan.ID, StepID: o.StepID,
			InputsHash: ih,
		})
	}
	return out, nil
}

// Approval returns the unsealed record of one approval or rejection and
// how it was evaluated (st.Reason).
func Approval(site string, a approval.Approval, st approval.Status) (Record, error) {
	ih, err := HashInputs(a)
	if err != nil {
		return Record{}, err
	}
	return Record{
		ID:   event.NewID("audit", KindApproval, a.ID, a.PlanID, a.StepID, a.Approver, a.Role, a.Verdict, a.At.UTC().Format(time.RFC3339Nano)),
		Site: site, Time: a.At.UTC(), Actor: a.Approver, ActorRole: a.Role, Kind: KindApproval,
		What: a.Verdict + " " + a.StepID, Why: orText(a.Comment, "no comment") + "; request " + st.State + ": " + st.Reason, Result: a.Verdict,
		IncidentID: a.IncidentID, IncidentVersion: a.IncidentVersion, PlanID: a.PlanID, StepID: a.StepID,
		InputsHash: ih,
	}, nil
}

// Renotify returns the unsealed record of the round-th renotification of
// a request of plan's step, with the notify executor's outcome.
func Renotify(plan event.Plan, stepID string, round int, state string, o executor.Outcome) (Record, error) {
	ih, err := HashInputs(struct {
		PlanID string `json:"plan_id"`
		StepID string `json:"step_id"`
		Round  int    `json:"round"`
	}{plan.ID, stepID, round})
	if err != nil {
		return Record{}, err
	}
	actor := ActorRespond
	if o.Executor != "" {
		actor += "/" + o.Executor
	}
	return Record{
		ID:   event.NewID("audit", KindRenotify, plan.ID, stepID, fmt.Sprint(round)),
		Site: plan.Site, Time: o.At.UTC(), Actor: actor, Kind: KindRenotify,
		What: fmt.Sprintf("%s/%s renotification %d (request %s)", plan.PlaybookID, stepID, round, state),
		Why:  orText(o.Detail, "still waiting for approval"), Result: o.Status,
		IncidentID: plan.IncidentID, IncidentVersion: plan.IncidentVersion, PlanID: plan.ID, StepID: stepID,
		InputsHash: ih,
	}, nil
}

// RequestState returns the unsealed record of a request of plan's step
// changing to state (timed_out, superseded) at at, with the reason.
func RequestState(plan event.Plan, stepID, state, reason string, at time.Time) (Record, error) {
	ih, err := HashInputs(struct {
		PlanID string `json:"plan_id"`
		StepID string `json:"step_id"`
		State  string `json:"state"`
	}{plan.ID, stepID, state})
	if err != nil {
		return Record{}, err
	}
	return Record{
		ID:   event.NewID("audit", KindRequest, plan.ID, stepID, state),
		Site: plan.Site, Time: at.UTC(), Actor: ActorRespond, Kind: KindRequest,
		What: plan.PlaybookID + "/" + stepID + " approval request " + state, Why: reason, Result: state,
		IncidentID: plan.IncidentID, IncidentVersion: plan.IncidentVersion, PlanID: plan.ID, StepID: stepID,
		InputsHash: ih,
	}, nil
}

func orText(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}
