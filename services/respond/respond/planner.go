package respond

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Planner turns an incident version into response plans. It is safe for
// concurrent use.
type Planner struct {
	set    *playbook.Set
	log    *slog.Logger
	assets map[string]site.ResponseConstraints // asset id -> constraints
}

// NewPlanner returns a Planner over a loaded playbook set; log receives
// playbook evaluation errors (nil means slog.Default()).
func NewPlanner(set *playbook.Set, log *slog.Logger) *Planner {
	if log == nil {
		log = slog.Default()
	}
	return &Planner{set: set, log: log}
}

// WithSites returns a planner that also applies the response constraints
// of the site models' assets (forbidden actions, extra approvers for
// intrusive actions) to incidents whose target is one of those assets.
func (p *Planner) WithSites(models ...*site.Model) *Planner {
	q := *p
	q.assets = map[string]site.ResponseConstraints{}
	for k, v := range p.assets {
		q.assets[k] = v
	}
	for _, m := range models {
		for _, a := range m.Assets {
			if len(a.Response.ForbiddenActions) > 0 || len(a.Response.Approvers) > 0 {
				q.assets[a.ID] = a.Response
			}
		}
	}
	return &q
}

// Context returns the constraint context of inc: its target and source
// and the target asset's response constraints from the site models.
func (p *Planner) Context(inc *event.Incident) constraint.Context {
	ctx := constraint.ContextOf(inc)
	if rc, ok := p.assets[inc.Target.AssetID]; ok && inc.Target.AssetID != "" {
		ctx.ForbiddenActions = rc.ForbiddenActions
		ctx.AssetApprovers = rc.Approvers
	}
	return ctx
}

// Plan returns one plan per playbook that applies to inc, in playbook
// priority order, every step decided by the constraint engine. Playbooks
// whose applies_to fails to evaluate are logged and left out (see PlanErr).
func (p *Planner) Plan(inc event.Incident, now time.Time) []event.Plan {
	plans, err := p.PlanErr(inc, now)
	if err != nil {
		p.log.Warn("playbook evaluation failed", "incident", inc.ID, "version", inc.Version, "err", err)
	}
	return plans
}

// PlanErr is Plan that also returns the (non-fatal) evaluation errors of
// playbooks that were left out. A step precondition that fails to evaluate
// counts as not met, so its step is forbidden with the error as the reason.
func (p *Planner) PlanErr(inc event.Incident, now time.Time) ([]event.Plan, error) {
	pbs, err := p.set.Match(&inc)
	if len(pbs) == 0 {
		return nil, err
	}
	ctx := p.Context(&inc)
	version := strconv.FormatUint(inc.Version, 10)
	created := now.UTC()
	plans := make([]event.Plan, 0, len(pbs))
	for _, pb := range pbs {
		steps := make([]event.Step, len(pb.Steps))
		for i := range pb.Steps {
			steps[i] = planStep(&pb.Steps[i], i+1, &inc, ctx)
		}
		plans = append(plans, event.Plan{
			ID:              event.NewID("plan", inc.ID, version, pb.ID),
			IncidentID:      inc.ID,
			IncidentVersion: inc.Version,
			Site:            inc.Site,
			PlaybookID:      pb.ID,
			PlaybookTitle:   pb.Title,
			CreatedAt:       created,
			Steps:           steps,
		})
	}
	return plans, err
}

// planStep decides one step; index is 1-based.
func planStep(s *playbook.Step, index int, inc *event.Incident, ctx constraint.Context) event.Step {
	cs := s.Constraint()
	ok, err := s.PreconditionsHold(inc)
	switch {
	case err != nil:
		cs.Unmet = []string{fmt.Sprintf("%s (could not be evaluated: %v)", s.Preconditions, err)}
	case !ok:
		cs.Unmet = []string{s.Preconditions}
	}
	d := constraint.Decide(cs, ctx)
	return event.Step{
		Index:          index,
		ID:             s.ID,
		Kind:           s.Kind,
		Action:         s.Action,
		Class:          s.Class(),
		Audience:       s.Audience,
		Text:           s.DisplayText(),
		Automatic:      s.Automatic,
		Decision:       d.Decision,
		Reason:         d.Reason,
		Quorum:         d.Quorum,
		TimeoutSeconds: int(s.Timeout / time.Second),
		Approvers:      d.Approvers,
	}
}
