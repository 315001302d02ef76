package respond

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

// randomEndpoint draws an endpoint of any zone kind, Purdue level (or
// unknown), role and safety flag.
func randomEndpoint(r *rand.Rand) event.Endpoint {
	kinds := []string{"enterprise", "dmz", "operations", "supervisory", "control", "safety", "field", "remote_access", "vendor", "unknown"}
	roles := []string{"plc", "sis", "protection_relay", "hmi", "ews", "historian", "jump_host", "workstation", "unknown"}
	levels := []float64{-1, 0, 1, 1.5, 2, 3, 3.5, 4, 5}
	zk := pick(r, kinds)
	e := event.Endpoint{
		IP:       fmt.Sprintf("10.%d.%d.%d", r.Intn(256), r.Intn(256), r.Intn(256)),
		Role:     pick(r, roles),
		Zone:     "site/" + zk,
		ZoneKind: zk,
		Purdue:   pick(r, levels),
		SLT:      r.Intn(5),
		Safety:   r.Intn(5) == 0,
	}
	if zk == "unknown" {
		e.Zone = "unknown"
	}
	return e
}

// randomIncident draws an incident with random target, source, rules and
// maintenance state.
func randomIncident(r *rand.Rand) event.Incident {
	rules := []string{"OT-001", "OT-002", "OT-003", "OT-005", "OT-006", "OT-007", "OT-020"}
	inc := event.Incident{
		ID:          fmt.Sprintf("inc-%d", r.Int63()),
		Version:     uint64(1 + r.Intn(5)),
		Site:        "site",
		Severity:    pick(r, []string{"low", "medium", "high", "critical"}),
		Status:      "open",
		RuleIDs:     []string{pick(r, rules)},
		Risk:        r.Intn(101),
		Source:      randomEndpoint(r),
		Target:      randomEndpoint(r),
		MaintActive: r.Intn(2) == 0,
	}
	inc.Zones = []string{inc.Source.Zone, inc.Target.Zone}
	return inc
}

// randomPlaybookYAML writes a well-formed playbook of 1-8 random steps:
// every kind, every catalog action (active scan included), automatic or
// not, random approvals, preconditions and timeouts.
func randomPlaybookYAML(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString("playbooks:\n  - id: PB-RANDOM\n    title: Random\n    applies_to: \"true\"\n    steps:\n")
	actions := constraint.Actions()
	audiences := playbook.Audiences()
	n := 1 + r.Intn(8)
	for i := range n {
		fmt.Fprintf(&b, "      - id: s%d\n        audience: %s\n", i, pick(r, audiences))
		switch r.Intn(5) {
		case 0:
			b.WriteString("        kind: guidance\n        text: Look, do not touch.\n")
			continue
		case 1:
			fmt.Fprintf(&b, "        kind: approval\n        approvals: {roles: [%s]}\n", pick(r, constraint.Roles()))
			continue
		case 2:
			b.WriteString("        kind: notify\n        action: notify\n")
		default:
			fmt.Fprintf(&b, "        kind: action\n        action: %s\n", pick(r, actions).Name)
		}
		if r.Intn(2) == 0 {
			b.WriteString("        automatic: true\n")
		}
		if r.Intn(3) == 0 {
			roles := []string{}
			for _, role := range constraint.Roles() {
				if r.Intn(4) == 0 {
					roles = append(roles, role)
				}
			}
			fmt.Fprintf(&b, "        approvals: {roles: [%s], count: %d}\n", strings.Join(roles, ", "), len(roles)+r.Intn(2))
		}
		if r.Intn(4) == 0 {
			b.WriteString("        preconditions: maint_active\n")
		}
		if r.Intn(2) == 0 {
			fmt.Fprintf(&b, "        timeout: %dm\n", 5*(1+r.Intn(12)))
		}
	}
	return b.String()
}

// planCase is one random playbook against one random incident.
type planCase struct {
	YAML string
	Inc  event.Incident
}

// Generate implements quick.Generator.
func (planCase) Generate(r *rand.Rand, _ int) reflect.Value {
	return reflect.ValueOf(planCase{YAML: randomPlaybookYAML(r), Inc: randomIncident(r)})
}

// TestPropertyPlans proves the built-in rules end to end (YAML -> loader ->
// planner -> plan) over random playbooks and incidents: no step is ever
// dropped, every refused step stays as a written instruction for a person,
// and nothing that could touch the process is allowed to run by itself.
func TestPropertyPlans(t *testing.T) {
	seed := int64(7)
	t.Logf("seed %d", seed)
	cfg := &quick.Config{MaxCount: 3000, Rand: rand.New(rand.NewSource(seed))}
	prop := func(pc planCase) bool {
		pbs, err := playbook.Parse("random.yaml", []byte(pc.YAML))
		if err != nil {
			t.Errorf("generated playbook rejected: %v\n%s", err, pc.YAML)
			return false
		}
		set, err := playbook.NewSet(pbs)
		if err != nil {
			t.Fatal(err)
		}
		plans, err := NewPlanner(set, nil).PlanErr(pc.Inc, fixtureNow)
		if err != nil || len(plans) != 1 {
			t.Errorf("plan: %v (%d plans)", err, len(plans))
			return false
		}
		return checkPlan(t, pbs[0], plans[0], pc.Inc)
	}
	if err := quick.Check(prop, cfg); err != nil {
		t.Fatal(err)
	}
}

// checkPlan is the oracle of TestPropertyPlans and TestUnsafePlaybookBlocked.
func checkPlan(t *testing.T, pb *playbook.Playbook, plan event.Plan, inc event.Incident) bool {
	t.Helper()
	ok := true
	bad := func(st event.Step, why string) {
		t.Helper()
		t.Errorf("%s: step %+v\nincident target %+v source %+v maint %v", why, st, inc.Target, inc.Source, inc.MaintActive)
		ok = false
	}
	if len(plan.Steps) != len(pb.Steps) {
		t.Errorf("plan has %d steps, playbook %d: a step was dropped", len(plan.Steps), len(pb.Steps))
		return false
	}
	safety := inc.Target.Safety || inc.Target.ZoneKind == "safety" || inc.Target.Role == "sis" || inc.Target.Role == "protection_relay"
	low := inc.Target.Purdue <= 2
	srcLevel := -1.0
	if inc.Source.ZoneKind != "" && inc.Source.ZoneKind != "unknown" && inc.Source.Zone != "unknown" {
		srcLevel = inc.Source.Purdue
	}
	for i, st := range plan.Steps {
		ps := pb.Steps[i]
		if st.ID != ps.ID || st.Index != i+1 {
			bad(st, "steps out of order")
		}
		if st.Reason == "" || st.Text == "" || st.Audience == "" {
			bad(st, "a step without reason, text or audience is no instruction for a person")
		}
		if st.Class != ps.Class() {
			bad(st, "class differs from the catalog")
		}
		if st.TimeoutSeconds != int(ps.Timeout/time.Second) {
			bad(st, "timeout lost")
		}
		runsAlone := st.Automatic && st.Decision == event.DecisionAllowed
		if runsAlone && st.Class == event.ClassIntrusive {
			bad(st, "intrusive step runs automatically")
		}
		if runsAlone && safety && st.Class != event.ClassPassive {
			bad(st, "automatic non-passive step on a safety system")
		}
		if runsAlone && low && !inc.MaintActive && st.Class == event.ClassIntrusive {
			bad(st, "automatic step on Level 0-2 outside a window")
		}
		if st.Class == event.ClassIntrusive && st.Decision != event.DecisionForbidden && st.Quorum < 2 {
			bad(st, "intrusive step without two distinct approvers")
		}
		if st.Class == event.ClassBoundary && st.Decision != event.DecisionForbidden && max(inc.Target.Purdue, srcLevel) < constraint.BoundaryMinPurdue {
			bad(st, "boundary step below Level 3.5")
		}
		if st.Action == constraint.ActActiveScan && st.Decision != event.DecisionForbidden {
			bad(st, "active scan not forbidden")
		}
		if st.Decision == event.DecisionNeedsApproval && (len(st.Approvers) == 0 || st.Quorum < len(st.Approvers)) {
			bad(st, "approval without approvers")
		}
	}
	return ok
}

// TestUnsafePlaybookBlocked runs the deliberately unsafe playbook of
// testdata/unsafe against the fixture incidents and a random sample:
// nothing but passive steps may run by themselves, and every refused step
// stays in the plan with its reason.
func TestUnsafePlaybookBlocked(t *testing.T) {
	data, err := os.ReadFile("testdata/unsafe/playbooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := playbook.Parse("testdata/unsafe/playbooks.yaml", data)
	if err != nil {
		t.Fatalf("the unsafe playbook is well-formed; the engine, not the loader, must stop it: %v", err)
	}
	set, err := playbook.NewSet(pbs)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlanner(set, nil)
	r := rand.New(rand.NewSource(62443))
	for i := range 500 {
		inc := randomIncident(r)
		plans := p.Plan(inc, fixtureNow)
		if len(plans) != 1 || !checkPlan(t, pbs[0], plans[0], inc) {
			t.Fatalf("case %d failed", i)
		}
		for _, st := range plans[0].Steps {
			if st.Decision == event.DecisionAllowed && st.Class != event.ClassBoundary {
				t.Errorf("case %d: unsafe step %s allowed: %s", i, st.ID, st.Reason)
			}
			if st.Class == event.ClassBoundary && st.Decision == event.DecisionAllowed && max(inc.Target.Purdue, inc.Source.Purdue) < 3.5 {
				t.Errorf("case %d: boundary step %s allowed below the IDMZ", i, st.ID)
			}
		}
	}
	// The plan against the golden PLC incident, for people to read.
	inc := readIncident(t, "PB-OT-01")
	plans := p.Plan(inc, fixtureNow)
	compareGolden(t, "testdata/unsafe/expected.json", plans)
}

// compareGolden compares v, indented JSON, with the golden file (-update
// rewrites it).
func compareGolden(t *testing.T, golden string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read %s (run go test -update): %v", golden, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (run go test -update to accept):\n%s", golden, diffLines(string(want), string(got)))
	}
}

// TestPlannerAppliesAssetResponseConstraints uses the demo plant, whose
// plc-101 forbids reboot and active_scan and adds the shift supervisor to
// intrusive approvals.
func TestPlannerAppliesAssetResponseConstraints(t *testing.T) {
	m, err := site.Load("../../../deploy/demo/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/unsafe/playbooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pbs, err := playbook.Parse("unsafe.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	set, err := playbook.NewSet(pbs)
	if err != nil {
		t.Fatal(err)
	}
	inc := readIncident(t, "PB-OT-03/into-control-zone") // target plc-101
	steps := map[string]event.Step{}
	for _, st := range NewPlanner(set, nil).WithSites(m).Plan(inc, fixtureNow)[0].Steps {
		steps[st.ID] = st
	}
	if st := steps["reboot"]; st.Decision != event.DecisionForbidden || !strings.Contains(st.Reason, "site model forbids reboot") {
		t.Errorf("reboot on plc-101: %s (%s), want forbidden by the site model", st.Decision, st.Reason)
	}
	if st := steps["isolate"]; st.Decision != event.DecisionNeedsApproval || !slices.Contains(st.Approvers, "shift_supervisor") || st.Quorum < 3 {
		t.Errorf("isolate on plc-101: %+v, want the shift supervisor among 3 approvers", st)
	}
	// Without the site model the reboot is only gated.
	for _, st := range NewPlanner(set, nil).Plan(inc, fixtureNow)[0].Steps {
		if st.ID == "reboot" && st.Decision != event.DecisionNeedsApproval {
			t.Errorf("reboot without site model: %s", st.Decision)
		}
	}
}
