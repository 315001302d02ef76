package rule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// writeRules writes the named rule files into a fresh directory.
func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okRule = `rules:
  - id: R-1
    title: Download
    severity: high
    condition: operation == "program_download"
`

func TestLoadDirErrors(t *testing.T) {
	long := `src_ip == "` + strings.Repeat("x", MaxExprLen) + `"`
	deep := strings.Repeat("1+", 1900) + "1 > 1"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"empty dir", map[string]string{}, []string{"no *.yaml rule files"}},
		{"yaml syntax", map[string]string{"a.yaml": "rules:\n  - id: [\n"}, []string{"a.yaml:"}},
		{"no rules", map[string]string{"a.yaml": "rules: []\n"}, []string{"a.yaml:1: no rules"}},
		{"unknown attribute", map[string]string{"a.yaml": okRule + "    filter: x\n"}, []string{"a.yaml:6:", "filter"}},
		{"unsupported kind", map[string]string{"a.yaml": `rules:
  - id: R-2
    title: Scan
    severity: medium
    kind: sliding
    condition: kind == "flow"
    window: 5m
    threshold: 10
`}, []string{"a.yaml:5: rule R-2: kind sliding is not supported"}},
		{"threshold without window", map[string]string{"a.yaml": `rules:
  - id: T-1
    title: Storm
    severity: medium
    kind: threshold
    condition: kind == "flow"
    threshold: 10
`}, []string{"a.yaml:2: rule T-1: window: window must be a positive duration"}},
		{"threshold below one", map[string]string{"a.yaml": `rules:
  - id: T-2
    title: Storm
    severity: medium
    kind: threshold
    condition: kind == "flow"
    window: 1m
    threshold: 0
`}, []string{"a.yaml:8: rule T-2: threshold: threshold must be at least 1"}},
		{"distinct without field", map[string]string{"a.yaml": `rules:
  - id: D-1
    title: Scan
    severity: medium
    kind: distinct
    condition: kind == "flow"
    group_by: [src_ip]
    window: 1m
    threshold: 10
`}, []string{"rule D-1: distinct: distinct (the expression"}},
		{"group_by does not compile", map[string]string{"a.yaml": `rules:
  - id: D-2
    title: Scan
    severity: medium
    kind: distinct
    condition: kind == "flow"
    group_by: [src.nope]
    distinct: dst_ip
    window: 1m
    threshold: 10
`}, []string{"a.yaml:7: rule D-2: group_by: type event.Endpoint has no field nope"}},
		{"key expression not scalar", map[string]string{"a.yaml": `rules:
  - id: D-3
    title: Scan
    severity: medium
    kind: threshold
    condition: kind == "flow"
    group_by: [src]
    window: 1m
    threshold: 10
`}, []string{"rule D-3: group_by: key expression \"src\" is of type *event.Endpoint"}},
		{"match with window", map[string]string{"a.yaml": okRule + "    window: 5m\n"}, []string{"a.yaml:6: rule R-1: window: window does not apply to kind match"}},
		{"sequence with one step", map[string]string{"a.yaml": `rules:
  - id: S-1
    title: Seq
    severity: high
    kind: sequence
    group_by: [src_ip]
    within: 10m
    steps:
      - condition: kind == "auth"
`}, []string{"a.yaml:9: rule S-1: steps: a sequence needs 2 to 8 steps, not 1"}},
		{"sequence step keys differ in length", map[string]string{"a.yaml": `rules:
  - id: S-2
    title: Seq
    severity: high
    kind: sequence
    within: 10m
    steps:
      - condition: kind == "auth"
        by: [src_ip, user]
      - condition: kind == "flow"
        by: [dst_ip]
`}, []string{"rule S-2: steps[1].by: 1 key expressions, but step 1 has 2"}},
		{"sequence step without key", map[string]string{"a.yaml": `rules:
  - id: S-3
    title: Seq
    severity: high
    kind: sequence
    within: 10m
    steps:
      - condition: kind == "auth"
      - condition: kind == "flow"
`}, []string{"rule S-3: steps[0]: a sequence step needs a key"}},
		{"sequence step condition", map[string]string{"a.yaml": `rules:
  - id: S-4
    title: Seq
    severity: high
    kind: sequence
    group_by: [src_ip]
    within: 10m
    steps:
      - condition: kind == "auth"
      - condition: dst_port
`}, []string{"a.yaml:10: rule S-4: steps[1].condition: expected bool"}},
		{"absence without key", map[string]string{"a.yaml": `rules:
  - id: A-1
    title: Silent
    severity: medium
    kind: absence
    condition: kind == "log"
    interval: 15m
`}, []string{"rule A-1: group_by: group_by is required"}},
		{"unknown name", map[string]string{"a.yaml": `rules:
  - id: R-3
    title: Bad
    severity: low
    condition: >-
      dst.role == "plc"
      and dst.rolez == "x"
`}, []string{"a.yaml:5: rule R-3: condition: type event.Endpoint has no field rolez"}},
		{"helper argument type", map[string]string{"a.yaml": `rules:
  - id: H-1
    title: Bad
    severity: low
    condition: >-
      kind == "flow"
      and purdue_at_most(dst, "2")
`}, []string{"a.yaml:5: rule H-1: condition: cannot use string as argument (type float64) to call purdue_at_most"}},
		{"helper arity", map[string]string{"a.yaml": okRule + "  - id: H-2\n    title: Bad\n    severity: low\n    condition: is_kind(dst)\n"},
			[]string{"a.yaml:9: rule H-2: condition: not enough arguments to call is_kind"}},
		{"helper endpoint argument", map[string]string{"a.yaml": okRule + "  - id: H-3\n    title: Bad\n    severity: low\n    condition: has_role(src_ip, \"plc\")\n"},
			[]string{"a.yaml:9: rule H-3: condition: cannot use string as argument (type *event.Endpoint) to call has_role"}},
		{"helper unknown zone kind", map[string]string{"a.yaml": okRule + "  - id: H-4\n    title: Bad\n    severity: low\n    condition: is_kind(src, \"contol\")\n"},
			[]string{"a.yaml:9: rule H-4: condition: is_kind: unknown zone kind \"contol\""}},
		{"helper unknown role", map[string]string{"a.yaml": okRule + "  - id: H-5\n    title: Bad\n    severity: low\n    condition: has_role(dst, \"plcc\")\n"},
			[]string{"a.yaml:9: rule H-5: condition: has_role: unknown asset role \"plcc\""}},
		{"helper bad CIDR", map[string]string{"a.yaml": okRule + "  - id: H-6\n    title: Bad\n    severity: low\n    condition: in_cidr(src_ip, \"10.0.0.0/33\")\n"},
			[]string{"a.yaml:9: rule H-6: condition: in_cidr: invalid CIDR \"10.0.0.0/33\""}},
		{"helper Purdue level out of range", map[string]string{"a.yaml": `rules:
  - id: H-7
    title: Bad
    severity: low
    kind: sequence
    group_by: [src_ip]
    within: 10m
    steps:
      - condition: kind == "auth"
      - condition: purdue_at_least(dst, 7)
`}, []string{"a.yaml:10: rule H-7: steps[1].condition: purdue_at_least: Purdue level 7 out of range 0..5"}},
		{"helper in a key", map[string]string{"a.yaml": okRule + "    incident_key: 'in_cidr(src_ip, \"10/8\") ? src_ip : dst_ip'\n"},
			[]string{"a.yaml:6: rule R-1: incident_key: in_cidr: invalid CIDR \"10/8\""}},
		{"condition not bool", map[string]string{"a.yaml": `rules:
  - id: R-4
    title: Bad
    severity: low
    condition: src_ip
`}, []string{"a.yaml:5: rule R-4: condition: expected bool"}},
		{"incident key not string", map[string]string{"a.yaml": okRule + "    incident_key: dst_port\n"}, []string{"a.yaml:6: rule R-1: incident_key: expected string"}},
		{"summary not string", map[string]string{"a.yaml": okRule + "    summary: flow.allowed\n"}, []string{"a.yaml:6: rule R-1: summary: expected string"}},
		{"now disabled", map[string]string{"a.yaml": okRule + "    summary: string(now())\n"}, []string{"rule R-1: summary:", "now"}},
		{"too long", map[string]string{"a.yaml": strings.Replace(okRule, `operation == "program_download"`, long, 1)}, []string{"rule R-1: condition: expression is", "limit of 4096"}},
		{"too many nodes", map[string]string{"a.yaml": strings.Replace(okRule, `operation == "program_download"`, deep, 1)}, []string{"rule R-1: condition:", "exceeds maximum allowed nodes"}},
		{"bad severity", map[string]string{"a.yaml": strings.Replace(okRule, "high", "urgent", 1)}, []string{"a.yaml:4: rule R-1: severity: invalid severity \"urgent\""}},
		{"bad attack id", map[string]string{"a.yaml": okRule + "    attack: [T843]\n"}, []string{"a.yaml:6: rule R-1: attack: invalid ATT&CK technique id \"T843\""}},
		{"bad field", map[string]string{"a.yaml": okRule + "    fields: [src_ip, dst.nope]\n"}, []string{"a.yaml:6: rule R-1: fields: field \"dst.nope\""}},
		{"missing condition", map[string]string{"a.yaml": "rules:\n  - id: R-5\n    title: x\n    severity: low\n"}, []string{"a.yaml:2: rule R-5: condition: condition is required"}},
		{"bad id", map[string]string{"a.yaml": strings.Replace(okRule, "R-1", "R 1", 1)}, []string{"a.yaml:2: rule R 1: id: invalid id"}},
		{"duplicate across files", map[string]string{"a.yaml": okRule, "b.yaml": okRule}, []string{"b.yaml:2: rule R-1: id: duplicate rule id, first defined at", "a.yaml:2"}},
		{"every bad rule reported", map[string]string{"a.yaml": `rules:
  - id: R-6
    title: x
    severity: low
    condition: nope
  - id: R-7
    title: y
    severity: low
    condition: nope2
`}, []string{"rule R-6: condition: unknown name nope", "rule R-7: condition: unknown name nope2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := LoadDir(writeRules(t, tt.files))
			if err == nil {
				t.Fatalf("LoadDir succeeded with %d rules, want an error", len(set.Rules()))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestUnsupportedKindIsTyped(t *testing.T) {
	_, err := Parse("k.yaml", []byte("rules:\n  - id: S\n    kind: correlation\n    steps: []\n"))
	var uk *UnsupportedKindError
	if !errors.As(err, &uk) || uk.Kind != "correlation" {
		t.Fatalf("err = %v, want an UnsupportedKindError for correlation", err)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Line != 3 || le.RuleID != "S" {
		t.Fatalf("err = %#v, want a LoadError at line 3 for rule S", le)
	}
}

func TestMatch(t *testing.T) {
	dir := writeRules(t, map[string]string{"m.yaml": `rules:
  - id: DL
    title: Download to controller
    severity: high
    attack: [T0843]
    condition: operation in engineering_ops and dst.role in controller_roles
    fields: [src_ip, dst.role, dst_port, dst.purdue, maint.allowed_ops, fields.user_name, fields.absent, time]
  - id: WR
    title: Write
    severity: medium
    condition: operation in write_ops
    incident_key: '"writer:" + src_ip'
    summary: '"write by " + src.role'
  - id: OFF
    title: Disabled
    severity: low
    enabled: false
    condition: "true"
  - id: BADRUN
    title: Runtime failure
    severity: low
    condition: int(fields["count"]) > 3
  - id: BADKEY
    title: Key failure
    severity: low
    condition: operation == "write"
    incident_key: split(src_ip, ".")[7]
`})
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(set.Enabled()); got != 4 {
		t.Fatalf("enabled rules = %d, want 4", got)
	}
	plc := event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc", Purdue: 1}
	ews := event.Endpoint{IP: "10.20.2.21", Known: true, AssetID: "demo-plant/ews-01", Role: "ews", Purdue: 2}
	tests := []struct {
		name    string
		ev      event.Event
		want    []Match // Rule compared by id
		wantErr []string
	}{
		{
			name: "download with fields",
			ev: event.Event{ID: "e1", Operation: "program_download", SrcIP: "10.20.2.21", DstIP: "10.20.1.11", DstPort: 44818,
				Src: ews, Dst: plc, Maint: event.Maint{AllowedOps: []string{"read", "mode_change"}},
				Fields: map[string]string{"user_name": "bob", "count": "1"}},
			want: []Match{{Rule: &Rule{ID: "DL"}, IncidentKey: "demo-plant/plc-101",
				Summary: "Download to controller: demo-plant/ews-01 (10.20.2.21) -> demo-plant/plc-101 (10.20.1.11)",
				Fields: map[string]string{"src_ip": "10.20.2.21", "dst.role": "plc", "dst_port": "44818", "dst.purdue": "1",
					"maint.allowed_ops": "read,mode_change", "fields.user_name": "bob"}}},
		},
		{
			name: "custom key and summary, failing key falls back",
			ev:   event.Event{ID: "e2", Operation: "write", SrcIP: "10.20.2.21", DstIP: "10.20.1.11", Src: ews, Dst: plc, Fields: map[string]string{"count": "2"}},
			want: []Match{
				{Rule: &Rule{ID: "WR"}, IncidentKey: "writer:10.20.2.21", Summary: "write by ews"},
				{Rule: &Rule{ID: "BADKEY"}, IncidentKey: "demo-plant/plc-101", Summary: "Key failure: demo-plant/ews-01 (10.20.2.21) -> demo-plant/plc-101 (10.20.1.11)"},
			},
			wantErr: []string{"BADKEY/incident_key"},
		},
		{
			name:    "runtime error skips only that rule",
			ev:      event.Event{ID: "e3", Host: "plc-101", Fields: map[string]string{"count": "many"}},
			wantErr: []string{"BADRUN/condition"},
		},
		{
			name: "runtime condition true, no endpoints",
			ev:   event.Event{ID: "e4", Host: "plc-101", Fields: map[string]string{"count": "9"}},
			want: []Match{{Rule: &Rule{ID: "BADRUN"}, IncidentKey: "plc-101", Summary: "Runtime failure on plc-101"}},
		},
		{
			name: "no match",
			ev:   event.Event{ID: "e5", Operation: "read", Src: ews, Dst: plc, Fields: map[string]string{"count": "0"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := set.Match(&tt.ev)
			var gotErr []string
			for _, e := range errs {
				gotErr = append(gotErr, e.RuleID+"/"+e.Part)
			}
			if !reflect.DeepEqual(gotErr, tt.wantErr) {
				t.Errorf("errors = %v, want %v (%v)", gotErr, tt.wantErr, errs)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d matches, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Rule.ID != w.Rule.ID || g.IncidentKey != w.IncidentKey || g.Summary != w.Summary || !reflect.DeepEqual(g.Fields, w.Fields) {
					t.Errorf("match %d:\n got  %s %q %q %v\n want %s %q %q %v", i, g.Rule.ID, g.IncidentKey, g.Summary, g.Fields,
						w.Rule.ID, w.IncidentKey, w.Summary, w.Fields)
				}
			}
		})
	}
	if ms, errs := set.Match(nil); ms != nil || errs != nil {
		t.Errorf("Match(nil) = %v, %v; want nothing", ms, errs)
	}
}

// TestMatcherConcurrent checks that Set.Match is safe for concurrent use
// (run with -race).
func TestMatcherConcurrent(t *testing.T) {
	set, err := LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	evs := benchEvents(t)
	want := make([]int, len(evs))
	for i := range evs {
		ms, _ := set.Match(&evs[i])
		want[i] = len(ms)
	}
	done := make(chan error)
	for range 4 {
		go func() {
			for n := range 200 {
				i := n % len(evs)
				ms, errs := set.Match(&evs[i])
				if len(ms) != want[i] || len(errs) != 0 {
					done <- errors.New("concurrent Match gave a different result")
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestMatcherCopy checks that a Matcher with Copy passes the incident key,
// summary and every field value of a Match through it (the correlation
// engine copies them out of the input message that way), native and
// interpreted, and that the matches are otherwise unchanged.
func TestMatcherCopy(t *testing.T) {
	dir := writeRules(t, map[string]string{"m.yaml": `rules:
  - id: CP
    title: Write
    severity: medium
    condition: operation == "write"
    incident_key: src_ip
    summary: dst.asset_id
    fields: [src_ip, dst.role, dst_port, fields.unit]
  - id: DEF
    title: Default key and summary
    severity: low
    condition: operation == "write"
`})
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{ID: "e1", Operation: "write", SrcIP: "10.20.2.21", DstIP: "10.20.1.11", DstPort: 502,
		Dst: event.Endpoint{AssetID: "demo-plant/plc-101", Role: "plc"}, Fields: map[string]string{"unit": "3"}}
	for _, interpret := range []bool{false, true} {
		t.Run(fmt.Sprintf("interpret=%v", interpret), func(t *testing.T) {
			plain := set.NewMatcher()
			plain.interpret = interpret
			want, errs := plain.Match(&ev, nil)
			if len(errs) > 0 || len(want) != 2 {
				t.Fatalf("matches %+v, errors %v", want, errs)
			}
			m := set.NewMatcher()
			m.interpret = interpret
			var copied []string
			m.Copy = func(s string) string {
				copied = append(copied, s)
				return strings.Clone(s)
			}
			got, errs := m.Match(&ev, nil)
			if len(errs) > 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("with Copy: matches %+v, errors %v; want %+v", got, errs, want)
			}
			var wantCopied []string
			for _, mt := range want {
				wantCopied = append(wantCopied, mt.IncidentKey, mt.Summary)
				for _, v := range mt.Fields {
					wantCopied = append(wantCopied, v)
				}
			}
			slices.Sort(copied)
			slices.Sort(wantCopied)
			if !slices.Equal(copied, wantCopied) {
				t.Errorf("copied %q, want %q", copied, wantCopied)
			}
		})
	}
}
