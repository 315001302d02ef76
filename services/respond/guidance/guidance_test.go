package guidance_test

import (
	"encoding/json"
	"flag"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c981/c981/services/respond/fixture"
	"github.com/c981/c981/services/respond/guidance"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

var update = flag.Bool("update", false, "rewrite the goldens in testdata")

const (
	packDir  = "../../../playbooks"
	fixtures = "../../../playbooks/testdata"
	demoSite = "../../../deploy/demo/site.yaml"
)

// TestGuidanceGoldens renders the operator guidance of every playbook
// fixture incident (all playbooks, with the demo plant's names and asset
// constraints) as JSON and Markdown and compares with testdata/<case>.{json,md}.
func TestGuidanceGoldens(t *testing.T) {
	set, err := playbook.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := site.Load(demoSite)
	if err != nil {
		t.Fatal(err)
	}
	planner := respond.NewPlanner(set, nil).WithSites(m)
	names := guidance.NamesOf(m)
	n := 0
	err = filepath.WalkDir(fixtures, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "incident.json" {
			return err
		}
		rel, _ := filepath.Rel(fixtures, filepath.Dir(path))
		name := strings.ReplaceAll(filepath.ToSlash(rel), "/", "_")
		n++
		t.Run(name, func(t *testing.T) {
			inc, err := fixture.ReadIncident(path)
			if err != nil {
				t.Fatal(err)
			}
			plans := planner.Plan(inc, fixture.Now)
			g := guidance.Build(inc, plans, names)
			checkInvariants(t, g, plans)
			js, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".json"), string(js)+"\n")
			golden(t, filepath.Join("testdata", name+".md"), guidance.Markdown(g))
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("only %d fixtures", n)
	}
}

// checkInvariants: every refused step is under Do not with its reason,
// every needs_approval step is waiting, the built-in warnings are there.
func checkInvariants(t *testing.T, g guidance.Guidance, plans []event.Plan) {
	t.Helper()
	for _, p := range plans {
		for _, st := range p.Steps {
			switch st.Decision {
			case event.DecisionForbidden:
				if !hasItem(g.DoNot, p.PlaybookID, st.ID, st.Reason) {
					t.Errorf("forbidden step %s/%s is not a written instruction under Do not", p.PlaybookID, st.ID)
				}
			case event.DecisionNeedsApproval:
				found := false
				for _, w := range g.Waiting {
					found = found || (w.Playbook == p.PlaybookID && w.Step == st.ID && w.Quorum == st.Quorum)
				}
				if !found {
					t.Errorf("step %s/%s waiting for approval is missing", p.PlaybookID, st.ID)
				}
			}
		}
	}
	for _, want := range guidance.Always.DoNot {
		if !hasItem(g.DoNot, "", "", "") || !strings.Contains(guidance.Markdown(g), want) {
			t.Errorf("built-in warning missing: %s", want)
		}
	}
	if len(g.Call) == 0 {
		t.Error("nobody to call")
	}
}

func hasItem(items []guidance.Item, pb, step, why string) bool {
	for _, it := range items {
		if it.Playbook == pb && it.Step == step && it.Why == why {
			return true
		}
	}
	return false
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test -update): %v", path, err)
	}
	if d := fixture.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (run go test -update to accept):\n%s", path, d)
	}
}

func BenchmarkBuildMarkdown(b *testing.B) {
	set, err := playbook.LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	m, err := site.Load(demoSite)
	if err != nil {
		b.Fatal(err)
	}
	inc, err := fixture.ReadIncident(fixtures + "/PB-OT-01/incident.json")
	if err != nil {
		b.Fatal(err)
	}
	plans := respond.NewPlanner(set, nil).WithSites(m).Plan(inc, fixture.Now)
	names := guidance.NamesOf(m)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = guidance.Markdown(guidance.Build(inc, plans, names))
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "incidents/s")
}

// TestPropertyGuidance plans random incidents with the pack and the
// deliberately unsafe playbook and checks the guidance invariants: every
// refused step is a written "Do not" instruction with its reason, every
// gated step is waiting with its quorum, nothing refused or gated is listed
// as done automatically.
func TestPropertyGuidance(t *testing.T) {
	set, err := playbook.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../respond/testdata/unsafe/playbooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unsafe, err := playbook.Parse("unsafe.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	all, err := playbook.NewSet(append(set.Playbooks(), unsafe...))
	if err != nil {
		t.Fatal(err)
	}
	planner := respond.NewPlanner(all, nil)
	r := rand.New(rand.NewSource(26))
	kinds := []string{"enterprise", "dmz", "operations", "supervisory", "control", "safety", "remote_access", "unknown"}
	levels := []float64{-1, 0, 1, 2, 3, 3.5, 4}
	rules := []string{"OT-001", "OT-002", "OT-003", "OT-005", "OT-006", "OT-007", "OT-020"}
	techniques := []string{"T0846", "T0829", "T0822", "T0843"}
	for i := range 300 {
		ep := func() event.Endpoint {
			k := kinds[r.Intn(len(kinds))]
			return event.Endpoint{IP: "10.0.0.1", Role: []string{"plc", "sis", "hmi", "unknown"}[r.Intn(4)], Zone: "s/" + k, ZoneKind: k,
				Purdue: levels[r.Intn(len(levels))], Safety: r.Intn(5) == 0}
		}
		inc := event.Incident{ID: "inc", Version: uint64(i + 1), Site: "s", Severity: "high",
			RuleIDs: []string{rules[r.Intn(len(rules))]}, Techniques: []string{techniques[r.Intn(len(techniques))]},
			Source: ep(), Target: ep(), MaintActive: r.Intn(2) == 0}
		plans := planner.Plan(inc, fixture.Now)
		g := guidance.Build(inc, plans, guidance.Names{})
		checkInvariants(t, g, plans)
		for _, it := range g.Automatic {
			for _, p := range plans {
				for _, st := range p.Steps {
					if p.PlaybookID == it.Playbook && st.ID == it.Step && st.Decision != event.DecisionAllowed {
						t.Fatalf("case %d: %s/%s listed as automatic but %s", i, it.Playbook, it.Step, st.Decision)
					}
				}
			}
		}
		if t.Failed() {
			t.Fatalf("case %d: incident %+v", i, inc)
		}
	}
}
