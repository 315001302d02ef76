package constraint

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// Step kinds.
const (
	// KindGuidance is an instruction a person reads; it changes nothing.
	KindGuidance = "guidance"
	// KindNotify tells people about the incident (a passive action).
	KindNotify = "notify"
	// KindApproval is a gate: the plan continues after the named roles approve.
	KindApproval = "approval"
	// KindAction performs a catalog action.
	KindAction = "action"
)

// Kinds returns the step kinds.
func Kinds() []string { return []string{KindGuidance, KindNotify, KindApproval, KindAction} }

// BoundaryMinPurdue is the lowest Purdue level of an enforcement point where
// boundary actions may be applied (the IDMZ).
const BoundaryMinPurdue = 3.5

// Context is what the engine knows about the incident's target.
type Context struct {
	// Role is the target asset's role (plc, sis, hmi, ...); "" or "unknown"
	// when not inventoried.
	Role string
	// ZoneKind is the kind of the target's zone (control, safety, dmz, ...).
	ZoneKind string
	// Safety is true for safety systems and safety zones.
	Safety bool
	// Purdue is the target's Purdue level; negative when unknown (treated as
	// Level 0-2, the conservative side).
	Purdue float64
	// SLT is the target zone's target security level, 0 when unknown.
	SLT int
	// MaintActive is true when a maintenance window covering the target is open.
	MaintActive bool
	// SourceZoneKind is the zone kind of the endpoint that initiated the
	// activity (enterprise, dmz, remote_access, ...); "" or "unknown" when
	// not known.
	SourceZoneKind string
	// SourcePurdue is the initiating endpoint's Purdue level; negative when
	// unknown.
	SourcePurdue float64
	// ForbiddenActions are the target asset's response constraints from the
	// site model: catalog actions never taken on it.
	ForbiddenActions []string
	// AssetApprovers are roles the site model requires on every intrusive
	// action against the target asset, on top of the built-in ones.
	AssetApprovers []string
}

// ContextOf returns the constraint context of an incident.
func ContextOf(inc *event.Incident) Context {
	return Context{
		Role:        inc.Target.Role,
		ZoneKind:    inc.Target.ZoneKind,
		Safety:      inc.Target.Safety,
		Purdue:      inc.Target.Purdue,
		SLT:         inc.Target.SLT,
		MaintActive: inc.MaintActive,
		// An incident without source context has Purdue 0 (the zero value)
		// in old records; only a known zone gives the source a level.
		SourceZoneKind: inc.Source.ZoneKind,
		SourcePurdue:   sourcePurdue(inc.Source),
	}
}

// sourcePurdue is the source's Purdue level, -1 when its zone is unknown.
func sourcePurdue(e event.Endpoint) float64 {
	if e.Zone == "" || e.Zone == "unknown" || e.ZoneKind == "" || e.ZoneKind == "unknown" {
		return -1
	}
	return e.Purdue
}

// EnforcementPurdue is the Purdue level of the enforcement point where a
// boundary action against the incident's flow is applied: the higher of the
// source's and the target's levels. A flow between an enterprise, IDMZ or
// remote-access source (>= 3.5) and an OT target crosses the IDMZ, so a
// narrow block of that source, or ending its remote session, happens at the
// IDMZ firewall or remote-access gateway. A flow whose ends are both at
// Level 3 or below (lateral movement inside OT) could only be cut on a cell
// or zone firewall on the control path, which boundary actions never touch.
// A source of unknown zone kind, or of unknown (negative) level, does not
// count.
func (c Context) EnforcementPurdue() float64 {
	if !c.sourceKnown() {
		return c.Purdue
	}
	return max(c.Purdue, c.SourcePurdue)
}

func (c Context) sourceKnown() bool {
	return c.SourceZoneKind != "" && c.SourceZoneKind != "unknown" && c.SourcePurdue >= 0
}

// IsSafety reports whether the target is a safety system: flagged as safety,
// in a safety zone, or of a safety role (sis, protection_relay).
func (c Context) IsSafety() bool {
	return c.Safety || c.ZoneKind == "safety" || slices.Contains(safetyRoles, c.Role)
}

// lowLevel reports whether the target is at Purdue 0-2 or of unknown level.
func (c Context) lowLevel() bool { return c.Purdue < 0 || c.Purdue <= 2 }

// String describes the target for reasons, e.g.
// "plc in control zone (Purdue 1, SL-T 3)".
func (c Context) String() string {
	var b strings.Builder
	role := c.Role
	if role == "" || role == "unknown" {
		role = "unknown asset"
	}
	b.WriteString(role)
	if c.ZoneKind != "" && c.ZoneKind != "unknown" {
		b.WriteString(" in " + c.ZoneKind + " zone")
	} else {
		b.WriteString(" in unknown zone")
	}
	b.WriteString(" (Purdue ")
	b.WriteString(purdue(c.Purdue))
	if c.SLT > 0 {
		b.WriteString(", SL-T " + strconv.Itoa(c.SLT))
	}
	b.WriteString(")")
	return b.String()
}

// sourceString describes the source for reasons, e.g. "dmz zone, Purdue 3.5".
func (c Context) sourceString() string {
	if !c.sourceKnown() {
		return "unknown"
	}
	return c.SourceZoneKind + " zone, Purdue " + purdue(c.SourcePurdue)
}

func purdue(p float64) string {
	if p < 0 {
		return "unknown"
	}
	return strconv.FormatFloat(p, 'f', -1, 64)
}

// Approvals are the approvals a playbook asks for on a step.
type Approvals struct {
	// Roles must each approve (one distinct person per role).
	Roles []string
	// Count is the minimum number of distinct approvers; 0 means len(Roles).
	Count int
}

// Step is what the engine needs to know about a playbook step.
type Step struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Action is the catalog entry of the step's action (zero for guidance
	// and approval steps); resolve it with Lookup so its class is the
	// catalog's.
	Action Action
	// Automatic is true when the step is meant to run without a person.
	Automatic bool
	// Approvals are the playbook's extra approval requirements.
	Approvals Approvals
	// Unmet lists the step's preconditions that do not hold for the incident
	// (evaluated by the caller).
	Unmet []string
	// Timeout is how long to wait for approvals; after it nothing is done.
	Timeout time.Duration
}

// Decision is the engine's verdict on one step.
type Decision struct {
	// Decision is event.DecisionAllowed, DecisionNeedsApproval or DecisionForbidden.
	Decision string
	// Reason explains the decision in plain language; always set.
	Reason string
	// Approvers are the roles that must each approve (needs_approval only).
	Approvers []string
	// Quorum is the minimum number of distinct people who must approve
	// (needs_approval only); at least len(Approvers).
	Quorum int
}

func allowed(reason string) Decision {
	return Decision{Decision: event.DecisionAllowed, Reason: reason}
}

func forbidden(reason string) Decision {
	return Decision{Decision: event.DecisionForbidden, Reason: reason}
}

// Rank orders decisions by restrictiveness: allowed 0, needs_approval 1,
// forbidden 2; anything else is 3.
func Rank(decision string) int {
	switch decision {
	case event.DecisionAllowed:
		return 0
	case event.DecisionNeedsApproval:
		return 1
	case event.DecisionForbidden:
		return 2
	}
	return 3
}

// Decide applies the built-in rules to one step against the incident
// target. It is pure and deterministic: the same input always gives the
// same Decision, and the Reason is always set.
func Decide(s Step, c Context) Decision {
	if (s.Kind == KindGuidance || s.Kind == KindApproval) && (s.Action.Name != "" || s.Action.Class != "") {
		// The loader rejects this; the engine does not rely on it.
		return forbidden(fmt.Sprintf("%s steps carry no action; %s would run unchecked", s.Kind, s.Action.Name))
	}
	switch s.Kind {
	case KindGuidance:
		// (f) guidance is for a person and changes nothing by itself.
		return allowed("guidance for a person; it changes nothing by itself")
	case KindApproval:
		if len(s.Approvals.Roles) == 0 {
			return forbidden("approval step names no approver roles")
		}
		return needsApproval(nil, 0, s, "approval gate: the plan continues only after approval")
	case KindNotify, KindAction:
	default:
		return forbidden(fmt.Sprintf("unknown step kind %q", s.Kind))
	}

	a := s.Action
	if a.Class == "" {
		return forbidden(fmt.Sprintf("action %q is not in the built-in action catalog", a.Name))
	}
	if s.Kind == KindNotify && a.Class != event.ClassPassive {
		return forbidden(fmt.Sprintf("notify steps may only use passive actions; %s is %s", a.Name, a.Class))
	}
	// (e) active scanning can stall or crash controllers.
	if a.Name == ActActiveScan {
		return forbidden("active scanning is forbidden everywhere in OT: it can stall or crash controllers; use passive sensor data")
	}
	safety := c.IsSafety()
	// (a) nothing automatic on a safety system.
	if safety && s.Automatic && (a.Class != event.ClassPassive || a.TouchesTarget) {
		return forbidden("target is a safety system: no automatic action; the safety engineer decides")
	}
	// (d) boundary actions only at Level 3.5+ enforcement points.
	if a.Class == event.ClassBoundary && c.EnforcementPurdue() < BoundaryMinPurdue {
		return forbidden(fmt.Sprintf("boundary action %s is enforced only at Level %s+ enforcement points (IDMZ, remote access); neither the source (%s) nor the target (%s) is at or above the boundary",
			a.Name, purdue(BoundaryMinPurdue), c.sourceString(), c))
	}
	if slices.Contains(c.ForbiddenActions, a.Name) {
		return forbidden(fmt.Sprintf("the site model forbids %s on this asset (response constraints of %s)", a.Name, c))
	}
	if len(s.Unmet) > 0 {
		return forbidden("precondition not met: " + strings.Join(s.Unmet, "; "))
	}

	switch a.Class {
	case event.ClassIntrusive:
		// (c) never automatic, two distinct approvers with the right roles.
		req := []string{RoleControlEngineer, RoleOperationsManager}
		if safety {
			req = append(req, RoleSafetyEngineer)
		}
		req = append(req, c.AssetApprovers...)
		why := fmt.Sprintf("intrusive action %s can upset the process on %s; it is never automatic", a.Name, c)
		if s.Automatic {
			why = "automatic execution refused: " + why
		}
		return needsApproval(req, 2, s, why)
	case event.ClassBoundary:
		if s.Automatic {
			if len(s.Approvals.Roles) > 0 || s.Approvals.Count > 0 {
				return needsApproval(nil, 0, s, fmt.Sprintf("boundary action %s at the IDMZ enforcement point; the playbook requires approval", a.Name))
			}
			return allowed(fmt.Sprintf("boundary action %s at the IDMZ enforcement point; automatic as the playbook allows", a.Name))
		}
		req := []string{RoleOTSecurityLead}
		if safety {
			req = append(req, RoleSafetyEngineer)
		}
		return needsApproval(req, 1, s, fmt.Sprintf("boundary action %s performed by hand needs the OT security lead's approval", a.Name))
	default: // passive
		var req []string
		var why string
		switch {
		case a.TouchesTarget && safety:
			req, why = []string{RoleSafetyEngineer}, fmt.Sprintf("passive action %s touches a safety system; the safety engineer decides", a.Name)
		case a.TouchesTarget && s.Automatic && c.lowLevel() && !c.MaintActive:
			// (b) nothing automatic on Level 0-2 devices outside a window.
			req, why = []string{RoleControlEngineer}, fmt.Sprintf("automatic action %s touches %s outside an open maintenance window", a.Name, c)
		}
		if len(req) > 0 {
			return needsApproval(req, 1, s, why)
		}
		if len(s.Approvals.Roles) > 0 || s.Approvals.Count > 0 {
			return needsApproval(nil, 0, s, fmt.Sprintf("passive action %s; the playbook requires approval", a.Name))
		}
		if s.Automatic {
			return allowed(fmt.Sprintf("passive action %s does not touch the target; it may run automatically", a.Name))
		}
		return allowed(fmt.Sprintf("passive action %s does not touch the target; a person performs it", a.Name))
	}
}

// needsApproval merges the built-in requirement (roles, quorum) with the
// playbook's approvals: roles are the union (built-in first), the quorum the
// largest of the built-in quorum, the playbook count and the role count.
func needsApproval(builtin []string, quorum int, s Step, why string) Decision {
	rs := make([]string, 0, len(builtin)+len(s.Approvals.Roles))
	for _, r := range builtin {
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	for _, r := range s.Approvals.Roles {
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		// A playbook count without roles: someone accountable must approve.
		rs = append(rs, RoleOTSecurityLead)
	}
	q := max(quorum, s.Approvals.Count, len(rs), 1)
	var b strings.Builder
	b.WriteString(why)
	b.WriteString("; needs ")
	if q == 1 {
		b.WriteString("1 approver")
	} else {
		b.WriteString(strconv.Itoa(q))
		b.WriteString(" distinct approvers")
	}
	if len(rs) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(rs, " + "))
	}
	if s.Timeout > 0 {
		b.WriteString("; without approval within ")
		b.WriteString(duration(s.Timeout))
		b.WriteString(" nothing is done")
	}
	return Decision{Decision: event.DecisionNeedsApproval, Reason: b.String(), Approvers: rs, Quorum: q}
}

// duration formats d without zero trailing units: 30m, 1h30m, 45s.
func duration(d time.Duration) string {
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
