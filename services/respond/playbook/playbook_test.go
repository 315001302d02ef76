package playbook

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const packDir = "../../../playbooks"

// TestParseInvalid loads every file in testdata/invalid and compares the
// error with the golden <name>.err.
func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, perr := Parse(f, data)
			if perr == nil {
				t.Fatalf("Parse(%s) succeeded, want an error", f)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			got := perr.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("error =\n%s\nwant\n%s", got, want)
			}
			if !strings.HasPrefix(got, f+":") {
				t.Errorf("error does not start with the file name %s", f)
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"duplicate playbook id across files", "testdata/dup", "testdata/dup/b.yaml:2: playbook PB-X-11: duplicate id (first defined at testdata/dup/a.yaml:2)"},
		{"first bad file stops loading", "testdata/invalid", "testdata/invalid/applies-to-not-bool.yaml:4: playbook PB-X-03: applies_to: expected bool, but got string"},
		{"no files", t.TempDir(), "no *.yaml files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := LoadDir(tt.dir)
			if err == nil {
				t.Fatalf("LoadDir(%s) = %d playbooks, want error", tt.dir, set.Len())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func loadPack(t testing.TB) *Set {
	t.Helper()
	set, err := LoadDir(packDir)
	if err != nil {
		t.Fatalf("load pack: %v", err)
	}
	return set
}

func TestLoadPack(t *testing.T) {
	set := loadPack(t)
	var ids []string
	for _, p := range set.Playbooks() {
		ids = append(ids, p.ID)
		if p.File == "" || p.Line == 0 {
			t.Errorf("playbook %s has no location (%q:%d)", p.ID, p.File, p.Line)
		}
		for _, s := range p.Steps {
			if s.DisplayText() == "" {
				t.Errorf("playbook %s step %s has no text", p.ID, s.ID)
			}
		}
	}
	want := []string{"PB-OT-02", "PB-OT-07", "PB-OT-01", "PB-OT-05", "PB-OT-04", "PB-OT-06", "PB-OT-03", "PB-OT-00"}
	if !slices.Equal(ids, want) {
		t.Errorf("playbooks in priority order = %v, want %v", ids, want)
	}
	if set.Get("PB-OT-01") == nil || set.Get("PB-NOPE") != nil {
		t.Errorf("Get does not find by id")
	}
}

func TestSelect(t *testing.T) {
	set := loadPack(t)
	plc := event.Endpoint{Role: "plc", ZoneKind: "control", Purdue: 1, SLT: 3}
	sis := event.Endpoint{Role: "sis", ZoneKind: "safety", Purdue: 1, SLT: 3, Safety: true}
	tests := []struct {
		name string
		inc  event.Incident
		want []string
	}{
		{"unrelated rule gets triage only", event.Incident{Severity: "medium", RuleIDs: []string{"OT-012"}, Target: plc}, []string{"PB-OT-00"}},
		{"program download", event.Incident{Severity: "critical", RuleIDs: []string{"OT-001"}, Target: plc}, []string{"PB-OT-01", "PB-OT-00"}},
		{"write from unauthorized host", event.Incident{Severity: "high", RuleIDs: []string{"OT-006", "OT-007"}, Target: plc}, []string{"PB-OT-01", "PB-OT-03", "PB-OT-00"}},
		{"safety rule", event.Incident{Severity: "critical", RuleIDs: []string{"OT-003"}, Target: sis}, []string{"PB-OT-02", "PB-OT-00"}},
		{"safety target without OT-003", event.Incident{Severity: "high", RuleIDs: []string{"OT-001"}, Target: sis}, []string{"PB-OT-02", "PB-OT-01", "PB-OT-00"}},
		{"unknown device", event.Incident{Severity: "medium", RuleIDs: []string{"OT-005"}}, []string{"PB-OT-06", "PB-OT-03", "PB-OT-00"}},
		{"scanning technique", event.Incident{Severity: "medium", RuleIDs: []string{"OT-012"}, Techniques: []string{"T0846"}, Target: plc}, []string{"PB-OT-06", "PB-OT-00"}},
		{"remote access", event.Incident{Severity: "medium", RuleIDs: []string{"OT-020"}, Target: plc}, []string{"PB-OT-04", "PB-OT-00"}},
		{"vendor source", event.Incident{Severity: "medium", RuleIDs: []string{"OT-012"}, Source: event.Endpoint{ZoneKind: "vendor", Purdue: 4}, Target: plc}, []string{"PB-OT-04", "PB-OT-00"}},
		{"IDMZ source toward Level 3", event.Incident{Severity: "high", RuleIDs: []string{"OT-006"}, Source: event.Endpoint{ZoneKind: "dmz", Purdue: 3.5}, Target: event.Endpoint{Role: "historian", ZoneKind: "operations", Purdue: 3}}, []string{"PB-OT-05", "PB-OT-03", "PB-OT-00"}},
		{"IDMZ source toward the enterprise", event.Incident{Severity: "high", RuleIDs: []string{"OT-012"}, Source: event.Endpoint{ZoneKind: "dmz", Purdue: 3.5}, Target: event.Endpoint{ZoneKind: "enterprise", Purdue: 4}}, []string{"PB-OT-00"}},
		{"sensor silence", event.Incident{Severity: "medium", Techniques: []string{"T0829"}, Target: plc}, []string{"PB-OT-07", "PB-OT-00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range set.Select(tt.inc) {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPreconditionsHold(t *testing.T) {
	set := loadPack(t)
	pb := set.Get("PB-OT-03")
	var block *Step
	for i := range pb.Steps {
		if pb.Steps[i].ID == "block-at-idmz" {
			block = &pb.Steps[i]
		}
	}
	if block == nil {
		t.Fatal("PB-OT-03 has no block-at-idmz step")
	}
	tests := []struct {
		zones []string
		want  bool
	}{
		{[]string{"demo-plant/enterprise", "demo-plant/idmz"}, true},
		{[]string{"demo-plant/idmz"}, true},
		{[]string{"demo-plant/operations", "demo-plant/control"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.zones, ","), func(t *testing.T) {
			got, err := block.PreconditionsHold(&event.Incident{Zones: tt.zones})
			if err != nil || got != tt.want {
				t.Errorf("PreconditionsHold = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestMatchConcurrent checks that a Set is safe to share between goroutines
// (run with -race).
func TestMatchConcurrent(t *testing.T) {
	set := loadPack(t)
	inc := event.Incident{Severity: "critical", RuleIDs: []string{"OT-001", "OT-006"}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				pbs, err := set.Match(&inc)
				if err != nil || len(pbs) != 3 {
					t.Errorf("Match = %d playbooks, %v", len(pbs), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSelect(b *testing.B) {
	set := loadPack(b)
	inc := event.Incident{Severity: "critical", RuleIDs: []string{"OT-001", "OT-006"}, Zones: []string{"demo-plant/enterprise", "demo-plant/control"}}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = set.Select(inc)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "incidents/s")
}

// TestSetFields checks which incident fields a set's expressions read.
func TestSetFields(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"applies_to and preconditions", `playbooks:
  - id: PB-1
    title: t
    applies_to: '"OT-003" in rule_ids or target.safety'
    steps:
      - {id: s, kind: action, action: block_at_idmz_firewall, audience: soc_analyst, preconditions: 'any(zones, # endsWith "/dmz") and alert_count > 10'}
`, []string{"alert_count", "rule_ids", "target", "zones"}},
		{"constant", `playbooks:
  - id: PB-1
    title: t
    applies_to: "true"
    steps: [{id: s, kind: guidance, text: t, audience: operator}]
`, []string{}},
		{"whole environment", `playbooks:
  - id: PB-1
    title: t
    applies_to: '$env.severity == "high"'
    steps: [{id: s, kind: guidance, text: t, audience: operator}]
`, []string{AllFields}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pbs, err := Parse("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			set, err := NewSet(pbs)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Fields(); !slices.Equal(got, tt.want) {
				t.Errorf("Fields() = %v, want %v", got, tt.want)
			}
		})
	}
}
