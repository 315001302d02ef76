package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/shared/event"
)

// Job is one step of one plan to perform.
type Job struct {
	// Key is the idempotency key (see Key).
	Key             string     `json:"key"`
	Site            string     `json:"site"`
	PlanID          string     `json:"plan_id"`
	PlaybookID      string     `json:"playbook_id"`
	IncidentID      string     `json:"incident_id"`
	IncidentVersion uint64     `json:"incident_version"`
	Step            event.Step `json:"step"`
	// Context is the constraint context the plan was decided with; the
	// gateway re-checks the step against it.
	Context constraint.Context `json:"context"`
	// SourceIP and TargetIP are the incident's endpoints (boundary actions
	// block or end the source's access).
	SourceIP string `json:"source_ip,omitempty"`
	TargetIP string `json:"target_ip,omitempty"`
	// DryRun asks the executor to do everything but the effect.
	DryRun bool `json:"dry_run"`
}

// Key returns the idempotency key of a step: the hex SHA-256 of incident
// id, step id and plan id (safe as a KV key).
func Key(incidentID, stepID, planID string) string {
	h := sha256.Sum256([]byte(incidentID + "\x00" + stepID + "\x00" + planID))
	return hex.EncodeToString(h[:])
}

// Result is what an executor did.
type Result struct {
	// Detail is a short description (HTTP status, gateway reply, ...).
	Detail string
}

// Executor performs one kind of step.
type Executor interface {
	// Name names the executor in outcomes and logs.
	Name() string
	// Execute performs the job (or, with job.DryRun, everything but its
	// effect). An error means the effect did not happen.
	Execute(ctx context.Context, job Job) (Result, error)
}

// Outcome statuses.
const (
	// StatusDone: the executor performed the step.
	StatusDone = "done"
	// StatusDryRun: dry run, nothing was changed.
	StatusDryRun = "dry_run"
	// StatusDuplicate: the step already ran (or started) for this key.
	StatusDuplicate = "duplicate"
	// StatusNotAutomatic: the step is for a person or waits for approval.
	StatusNotAutomatic = "not_automatic"
	// StatusNoExecutor: allowed and automatic but no executor is configured
	// for its action; a person performs it.
	StatusNoExecutor = "no_executor"
	// StatusFailed: the executor returned an error.
	StatusFailed = "failed"
)

// Outcome is the result of one step of a plan.
type Outcome struct {
	StepID   string    `json:"step_id"`
	Action   string    `json:"action,omitempty"`
	Status   string    `json:"status"`
	Executor string    `json:"executor,omitempty"`
	Detail   string    `json:"detail"`
	At       time.Time `json:"at"`
}

// Runner dispatches allowed automatic steps to executors by action name.
type Runner struct {
	byAction map[string]Executor
	kv       jetstream.KeyValue
	dryRun   bool
	now      func() time.Time
}

// IdempotencyBucket is the JetStream KV bucket of step keys.
const IdempotencyBucket = "C981_RESPOND_STEPS"

// EnsureBucket creates (or updates) the idempotency bucket: keys live for
// ttl (30 days when 0), longer than any incident redelivery; replicas
// copies (0 means 1).
func EnsureBucket(ctx context.Context, js jetstream.JetStream, ttl time.Duration, replicas int) (jetstream.KeyValue, error) {
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      IdempotencyBucket,
		Description: "C-981 respond: idempotency keys of executed plan steps",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		History:     1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("executor: kv bucket %s: %w", IdempotencyBucket, err)
	}
	return kv, nil
}

// NewRunner returns a runner; byAction maps catalog action names to
// executors. With dryRun every job is a dry run.
func NewRunner(kv jetstream.KeyValue, byAction map[string]Executor, dryRun bool) (*Runner, error) {
	if kv == nil {
		return nil, errors.New("executor: a KV bucket is required for idempotency")
	}
	for a := range byAction {
		if _, ok := constraint.Lookup(a); !ok {
			return nil, fmt.Errorf("executor: %q is not a catalog action", a)
		}
	}
	return &Runner{byAction: byAction, kv: kv, dryRun: dryRun, now: time.Now}, nil
}

// Run performs every allowed automatic step of plan in order and returns
// one outcome per step. ctx is the engine's context of the incident. It
// returns an error only when the idempotency store fails (the caller
// retries the incident; steps already done are not repeated); executor
// failures are outcomes.
func (r *Runner) Run(ctx context.Context, plan event.Plan, c constraint.Context, inc event.Incident) ([]Outcome, error) {
	out := make([]Outcome, 0, len(plan.Steps))
	for _, st := range plan.Steps {
		o := Outcome{StepID: st.ID, Action: st.Action, At: r.now().UTC()}
		if st.Decision != event.DecisionAllowed || !st.Automatic || st.Action == "" {
			o.Status = StatusNotAutomatic
			o.Detail = "for a person: " + st.Decision
			out = append(out, o)
			continue
		}
		o, err := r.perform(ctx, plan, st, c, inc)
		out = append(out, o)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// RunApproved performs one step of plan that needed approval and was
// approved by the quorum (the caller, package approval, vouches for that).
// It is idempotent like Run: the step's key is taken before the effect,
// so a redelivered approval never performs it twice. A step that is not
// an automatic action is for a person (StatusNotAutomatic).
func (r *Runner) RunApproved(ctx context.Context, plan event.Plan, stepID string, c constraint.Context, inc event.Incident) (Outcome, error) {
	i := slices.IndexFunc(plan.Steps, func(s event.Step) bool { return s.ID == stepID })
	if i < 0 {
		return Outcome{}, fmt.Errorf("executor: plan %s has no step %q", plan.ID, stepID)
	}
	st := plan.Steps[i]
	if st.Decision != event.DecisionNeedsApproval {
		return Outcome{}, fmt.Errorf("executor: plan %s step %s is %s, not an approved needs_approval step", plan.ID, stepID, st.Decision)
	}
	if !st.Automatic || st.Action == "" {
		return Outcome{StepID: st.ID, Action: st.Action, At: r.now().UTC(), Status: StatusNotAutomatic,
			Detail: "approved; a person performs it"}, nil
	}
	return r.perform(ctx, plan, st, c, inc)
}

// Notifier returns the executor of notify steps, or nil when none is
// configured (the respond stage renotifies open approval requests with it).
func (r *Runner) Notifier() Executor { return r.byAction[constraint.ActNotify] }

// DryRun reports whether every job of the runner is a dry run.
func (r *Runner) DryRun() bool { return r.dryRun }

// perform runs one step with its idempotency key.
func (r *Runner) perform(ctx context.Context, plan event.Plan, st event.Step, c constraint.Context, inc event.Incident) (Outcome, error) {
	o := Outcome{StepID: st.ID, Action: st.Action, At: r.now().UTC()}
	ex, ok := r.byAction[st.Action]
	if !ok {
		o.Status, o.Detail = StatusNoExecutor, "no executor configured for "+st.Action+"; a person performs it"
		return o, nil
	}
	o.Executor = ex.Name()
	job := Job{
		Key: Key(plan.IncidentID, st.ID, plan.ID), Site: plan.Site, PlanID: plan.ID, PlaybookID: plan.PlaybookID,
		IncidentID: plan.IncidentID, IncidentVersion: plan.IncidentVersion, Step: st, Context: c,
		SourceIP: inc.Source.IP, TargetIP: inc.Target.IP, DryRun: r.dryRun,
	}
	if !r.dryRun {
		if _, err := r.kv.Create(ctx, job.Key, []byte("started")); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				prev, gerr := r.kv.Get(ctx, job.Key)
				detail := "already run for this incident, step and plan"
				if gerr == nil && string(prev.Value()) == "started" {
					detail = "started earlier and not confirmed; not repeated - a person checks it"
				}
				o.Status, o.Detail = StatusDuplicate, detail
				return o, nil
			}
			return o, fmt.Errorf("executor: idempotency key of %s: %w", st.ID, err)
		}
	}
	res, err := ex.Execute(ctx, job)
	switch {
	case err != nil:
		o.Status, o.Detail = StatusFailed, err.Error()
	case r.dryRun:
		o.Status, o.Detail = StatusDryRun, res.Detail
	default:
		o.Status, o.Detail = StatusDone, res.Detail
	}
	if !r.dryRun {
		if _, perr := r.kv.Put(ctx, job.Key, []byte(o.Status+": "+o.Detail)); perr != nil {
			return o, fmt.Errorf("executor: record %s: %w", st.ID, perr)
		}
	}
	return o, nil
}
