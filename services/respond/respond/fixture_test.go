package respond

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the expected.json goldens of the playbook fixtures")

const (
	packDir     = "../../../playbooks"
	fixturesDir = "../../../playbooks/testdata"
)

// fixtureNow is the fake clock of the playbook fixtures.
var fixtureNow = time.Date(2026, 11, 26, 10, 45, 0, 0, time.UTC)

// fixtureResult is the golden of one playbook fixture: which playbooks the
// incident selects (in order) and the plan of the playbook under test.
type fixtureResult struct {
	Selected []string   `json:"selected"`
	Plan     event.Plan `json:"plan"`
}

func loadPlanner(t testing.TB) *Planner {
	t.Helper()
	set, err := playbook.LoadDir(packDir)
	if err != nil {
		t.Fatalf("load playbooks: %v", err)
	}
	return NewPlanner(set, nil)
}

// TestPlaybookFixtures walks playbooks/testdata: every directory holding an
// incident.json is a case for the playbook named by its top directory
// (testdata/<PB-ID>/... ), compared with expected.json beside it.
func TestPlaybookFixtures(t *testing.T) {
	p := loadPlanner(t)
	covered := map[string]bool{}
	err := filepath.WalkDir(fixturesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "incident.json" {
			return nil
		}
		dir := filepath.Dir(path)
		rel, err := filepath.Rel(fixturesDir, dir)
		if err != nil {
			return err
		}
		pbID := strings.Split(filepath.ToSlash(rel), "/")[0]
		covered[pbID] = true
		t.Run(filepath.ToSlash(rel), func(t *testing.T) { runFixture(t, p, pbID, dir) })
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", fixturesDir, err)
	}
	for _, pb := range p.set.Playbooks() {
		if !covered[pb.ID] {
			t.Errorf("playbook %s has no fixture (%s/%s/incident.json)", pb.ID, fixturesDir, pb.ID)
		}
	}
}

func runFixture(t *testing.T, p *Planner, pbID, dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "incident.json"))
	if err != nil {
		t.Fatal(err)
	}
	var inc event.Incident
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inc); err != nil {
		t.Fatalf("decode incident.json: %v", err)
	}
	plans, err := p.PlanErr(inc, fixtureNow)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var res fixtureResult
	for _, pl := range plans {
		res.Selected = append(res.Selected, pl.PlaybookID)
		if pl.PlaybookID == pbID {
			res.Plan = pl
		}
	}
	if res.Plan.ID == "" {
		t.Fatalf("playbook %s does not apply to the fixture incident (selected %v)", pbID, res.Selected)
	}
	got, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join(dir, "expected.json")
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
		t.Errorf("plan differs from %s (run go test -update to accept):\n%s", golden, diffLines(string(want), string(got)))
	}
}

// diffLines lists the lines that differ between want and got.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}
