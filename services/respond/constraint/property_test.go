package constraint

import (
	"flag"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
	"time"

	"github.com/c981/c981/services/shared/event"
)

var (
	quickSeed  = flag.Int64("quickseed", 981, "seed of the property-based tests (0: time-based)")
	quickCount = flag.Int("quickcount", 50000, "random cases per property")
)

// quickConfig returns a testing/quick configuration with a logged seed, so
// a failure can be replayed with -quickseed.
func quickConfig(t *testing.T) *quick.Config {
	t.Helper()
	seed := *quickSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -quickseed=%d)", seed, seed)
	return &quick.Config{MaxCount: *quickCount, Rand: rand.New(rand.NewSource(seed))}
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

var (
	genRoles     = []string{"plc", "sis", "protection_relay", "rtu", "hmi", "ews", "historian", "jump_host", "workstation", "firewall", "unknown", ""}
	genZoneKinds = []string{"enterprise", "dmz", "operations", "supervisory", "control", "safety", "field", "remote_access", "vendor", "wireless", "unknown", ""}
	genPurdues   = []float64{-1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}
	genKinds     = []string{KindGuidance, KindNotify, KindApproval, KindAction, KindAction, KindAction, "script", ""}
)

// RandomContext draws an incident target and source: every role, zone kind,
// safety flag, Purdue level (including unknown), SL-T and maintenance state.
func RandomContext(r *rand.Rand) Context {
	c := Context{
		Role:           pick(r, genRoles),
		ZoneKind:       pick(r, genZoneKinds),
		Safety:         r.Intn(4) == 0,
		Purdue:         pick(r, genPurdues),
		SLT:            r.Intn(5),
		MaintActive:    r.Intn(2) == 0,
		SourceZoneKind: pick(r, genZoneKinds),
		SourcePurdue:   pick(r, genPurdues),
	}
	if r.Intn(4) == 0 {
		c.ForbiddenActions = []string{pick(r, Actions()).Name}
	}
	if r.Intn(4) == 0 {
		c.AssetApprovers = []string{RoleShiftSupervisor}
	}
	return c
}

// RandomStep draws a playbook step: any kind (including invalid ones), any
// catalog action or an action outside the catalog, automatic or not, random
// playbook approvals, unmet preconditions and timeouts.
func RandomStep(r *rand.Rand) Step {
	actions := Actions()
	var a Action
	switch n := r.Intn(12); {
	case n < 10:
		a = pick(r, actions)
	case n == 10:
		// A passive action that touches the device (read diagnostics).
		a = Action{Name: "read_diagnostics", Class: event.ClassPassive, TouchesTarget: true}
	default:
		// Not in the catalog: the class is unknown.
		a = Action{Name: "format_disk"}
	}
	var ap Approvals
	for _, role := range Roles() {
		if r.Intn(5) == 0 {
			ap.Roles = append(ap.Roles, role)
		}
	}
	if r.Intn(3) == 0 {
		ap.Count = len(ap.Roles) + r.Intn(3)
	}
	var unmet []string
	if r.Intn(5) == 0 {
		unmet = []string{"maint_active"}
	}
	return Step{
		Kind:      pick(r, genKinds),
		Action:    a,
		Automatic: r.Intn(2) == 0,
		Approvals: ap,
		Unmet:     unmet,
		Timeout:   time.Duration(r.Intn(4)) * 15 * time.Minute,
	}
}

// randomCase is one step against one context for testing/quick.
type randomCase struct {
	S Step
	C Context
}

// Generate implements quick.Generator.
func (randomCase) Generate(r *rand.Rand, _ int) reflect.Value {
	return reflect.ValueOf(randomCase{S: RandomStep(r), C: RandomContext(r)})
}

// TestPropertyBuiltInRules proves the built-in rules over random steps and
// targets; checkInvariants is the oracle (written independently of Decide).
func TestPropertyBuiltInRules(t *testing.T) {
	prop := func(rc randomCase) bool {
		checkInvariants(t, rc.S, rc.C)
		return !t.Failed()
	}
	if err := quick.Check(prop, quickConfig(t)); err != nil {
		t.Fatal(err)
	}
}

// TestPropertyNothingAutomaticLow proves, in the words of the issue:
// nothing automatic on a safety system or at Purdue <= 2 outside an open
// window; intrusive never automatic, with two distinct approvers of the
// right roles; boundary only at 3.5+ enforcement points; active scanning
// forbidden everywhere; unknown kinds and actions forbidden.
func TestPropertyNothingAutomaticLow(t *testing.T) {
	prop := func(rc randomCase) bool {
		s, c := rc.S, rc.C
		d := Decide(s, c)
		safety := c.Safety || c.ZoneKind == "safety" || c.Role == "sis" || c.Role == "protection_relay"
		low := c.Purdue <= 2 // includes unknown (-1)
		touches := s.Action.Class == event.ClassIntrusive || s.Action.TouchesTarget
		runsAlone := d.Decision == event.DecisionAllowed && s.Automatic && (s.Kind == KindAction || s.Kind == KindNotify)
		ok := true
		bad := func(why string) {
			t.Errorf("%s: step %+v on %+v -> %+v", why, s, c, d)
			ok = false
		}
		if runsAlone && touches && (safety || (low && !c.MaintActive)) {
			bad("automatic action touching a safety system or a Level 0-2 device outside a window")
		}
		if runsAlone && safety && s.Action.Class == event.ClassBoundary {
			bad("automatic boundary action on a safety incident")
		}
		if s.Action.Class == event.ClassIntrusive && (s.Kind == KindAction || s.Kind == KindNotify) {
			if d.Decision == event.DecisionAllowed {
				bad("intrusive action allowed")
			}
			if d.Decision == event.DecisionNeedsApproval && (d.Quorum < 2 || !containsAll(d.Approvers, RoleControlEngineer, RoleOperationsManager)) {
				bad("intrusive action without two distinct approvers (control engineer + operations manager)")
			}
		}
		if s.Action.Class == event.ClassBoundary && d.Decision != event.DecisionForbidden && boundaryLevel(c) < 3.5 {
			bad("boundary action below Level 3.5")
		}
		if s.Action.Name == ActActiveScan && (s.Kind == KindAction || s.Kind == KindNotify) && d.Decision != event.DecisionForbidden {
			bad("active scan not forbidden")
		}
		if (s.Kind == KindAction || s.Kind == KindNotify) && s.Action.Class == "" && d.Decision != event.DecisionForbidden {
			bad("action outside the catalog not forbidden")
		}
		if s.Kind != KindGuidance && s.Kind != KindNotify && s.Kind != KindApproval && s.Kind != KindAction && d.Decision != event.DecisionForbidden {
			bad("unknown step kind not forbidden")
		}
		if d.Reason == "" {
			bad("no reason")
		}
		if (s.Kind == KindAction || s.Kind == KindNotify) && containsAll(c.ForbiddenActions, s.Action.Name) && d.Decision != event.DecisionForbidden {
			bad("action the site model forbids on the asset not forbidden")
		}
		if s.Action.Class == event.ClassIntrusive && d.Decision == event.DecisionNeedsApproval && !containsAll(d.Approvers, c.AssetApprovers...) {
			bad("asset approvers dropped")
		}
		return ok
	}
	if err := quick.Check(prop, quickConfig(t)); err != nil {
		t.Fatal(err)
	}
}

func containsAll(xs []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, x := range xs {
			if x == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
