package rule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the expected.json goldens of the rule fixtures")

// packDir is the repository's rule pack, relative to this package.
const packDir = "../../../rules"

// fixtureAlert is what a rule fixture's expected.json records per alert.
type fixtureAlert struct {
	EventID     string `json:"event_id"`
	RuleID      string `json:"rule_id"`
	Severity    string `json:"severity"`
	IncidentKey string `json:"incident_key"`
}

// readEvents decodes a JSON-lines file of enriched events, rejecting
// unknown fields so that fixture typos do not go unnoticed.
func readEvents(t testing.TB, path string) []event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open events: %v", err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return evs
}

// TestRulePackFixtures runs every rule of the pack against each fixture's
// events and compares the alerts with expected.json. Each fixture must
// contain at least one event its rule matches and one it does not.
func TestRulePackFixtures(t *testing.T) {
	set, err := LoadDir(packDir)
	if err != nil {
		t.Fatalf("load rule pack: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(packDir, "testdata"))
	if err != nil {
		t.Fatalf("read fixtures: %v", err)
	}
	fixtures := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		id := e.Name()
		fixtures[id] = true
		t.Run(id, func(t *testing.T) {
			if _, ok := set.Rule(id); !ok {
				t.Fatalf("fixture %s names no rule of the pack", id)
			}
			dir := filepath.Join(packDir, "testdata", id)
			evs := readEvents(t, filepath.Join(dir, "events.jsonl"))
			got := []fixtureAlert{}
			hits, misses := 0, 0
			for i := range evs {
				ms, errs := set.Match(&evs[i])
				for _, e := range errs {
					t.Errorf("event %s: %v", evs[i].ID, e)
				}
				hit := false
				for _, m := range ms {
					got = append(got, fixtureAlert{EventID: evs[i].ID, RuleID: m.Rule.ID, Severity: m.Rule.Severity, IncidentKey: m.IncidentKey})
					hit = hit || m.Rule.ID == id
				}
				if hit {
					hits++
				} else {
					misses++
				}
			}
			if hits == 0 {
				t.Errorf("no event of the fixture matches %s", id)
			}
			if misses == 0 {
				t.Errorf("every event of the fixture matches %s; add at least one that must not", id)
			}
			compareGolden(t, filepath.Join(dir, "expected.json"), got)
		})
	}
	for _, r := range set.Enabled() {
		if !fixtures[r.ID] {
			t.Errorf("rule %s (%s:%d) has no fixture in %s/testdata/%s", r.ID, r.File, r.Line, packDir, r.ID)
		}
	}
}

func compareGolden(t *testing.T, path string, got []fixtureAlert) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(want, data) {
		t.Errorf("alerts differ from %s (run with -update to accept):\n%s", path, diffAlerts(want, got))
	}
}

func diffAlerts(wantJSON []byte, got []fixtureAlert) string {
	var want []fixtureAlert
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		return fmt.Sprintf("golden is not valid JSON: %v", err)
	}
	var b bytes.Buffer
	in := func(list []fixtureAlert, a fixtureAlert) bool {
		for _, x := range list {
			if x == a {
				return true
			}
		}
		return false
	}
	for _, a := range want {
		if !in(got, a) {
			fmt.Fprintf(&b, "- missing %+v\n", a)
		}
	}
	for _, a := range got {
		if !in(want, a) {
			fmt.Fprintf(&b, "+ unexpected %+v\n", a)
		}
	}
	if b.Len() == 0 {
		b.WriteString("same alerts in a different order\n")
	}
	return b.String()
}
