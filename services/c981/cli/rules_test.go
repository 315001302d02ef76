package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture copies one rule fixture of the pack into dir/testdata/<id>.
func copyFixture(t *testing.T, dir, id string) {
	t.Helper()
	dst := filepath.Join(dir, "testdata", id)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"events.jsonl", "expected.json"} {
		data, err := os.ReadFile(filepath.Join(repo, "rules", "testdata", id, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRulesCommand(t *testing.T) {
	// A one-rule pack whose fixture expects an alert the rule (with a
	// raised threshold) no longer raises.
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "storm.yaml"), []byte(`rules:
  - id: OT-015
    title: Write storm against a controller
    severity: high
    kind: threshold
    condition: operation in write_ops and dst.role in controller_roles
    group_by: [src_ip, dst_ip]
    threshold: 51
    window: 60s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFixture(t, broken, "OT-015")
	// A valid rule outside the compiled subset (?? and len).
	slow := t.TempDir()
	if err := os.WriteFile(filepath.Join(slow, "slow.yaml"), []byte(`rules:
  - id: SLOW-1
    title: Long user name
    severity: low
    kind: threshold
    condition: len(fields["user"] ?? "") > 64
    group_by: [src_ip]
    threshold: 2
    window: 1m
`), 0o644); err != nil {
		t.Fatal(err)
	}
	event := filepath.Join(repo, "rules", "testdata", "OT-002", "events.jsonl")
	first, err := os.ReadFile(event)
	if err != nil {
		t.Fatal(err)
	}
	evFile := filepath.Join(t.TempDir(), "ev.json")
	if err := os.WriteFile(evFile, []byte(strings.SplitN(string(first), "\n", 2)[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	sigmaDir := filepath.Join(repo, "services", "correlate", "sigma", "testdata")
	rdp := filepath.Join(sigmaDir, "win_security_successful_external_remote_rdp_login.yml")
	group := filepath.Join(sigmaDir, "win_security_member_added_security_enabled_global_group.yml")
	aggregation := filepath.Join(t.TempDir(), "burst.yml")
	if err := os.WriteFile(aggregation, []byte(`title: Burst
detection:
  sel:
    EventID: 4625
  condition: sel | count() by IpAddress > 10
`), 0o644); err != nil {
		t.Fatal(err)
	}
	imported := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"import Sigma rules", []string{"rules", "import-sigma", rdp, group}, 0,
			[]string{"rules:", "id: SIGMA-259a9cdf-c4dd-4fa2-b243-2269e5ab18a2", `in_cidr(src_ip, "10.0.0.0/8")`, "id: SIGMA-c43c26be"},
			[]string{"2 Sigma rules converted, 0 failed"}},
		{"import names unsupported files", []string{"rules", "import-sigma", "--prefix", "S-", group, aggregation}, 1,
			[]string{"id: S-c43c26be"}, []string{"burst.yml: condition", "aggregations", "1 Sigma rules converted, 1 failed"}},
		{"import to a file", []string{"rules", "import-sigma", "--out", filepath.Join(imported, "sigma.yaml"), rdp, group}, 0, nil,
			[]string{"2 Sigma rules converted"}},
		{"imported rules check", []string{"rules", "check", "--rules", imported}, 0, []string{"2 rules OK (2 match"}, nil},
		{"import needs files", []string{"rules", "import-sigma"}, 2, nil, nil},
		{"check the pack", []string{"rules", "check", "--rules", repo + "/rules"}, 0,
			[]string{"17 rules OK", "1 threshold", "1 distinct", "5 sequence", "1 absence"}, nil},
		{"check notes interpreted rules", []string{"rules", "check", "--rules", slow}, 0,
			[]string{"1 rules OK", "slow.yaml:2: rule SLOW-1: condition run in expr's interpreter"}, nil},
		{"check names file:line", []string{"rules", "check", "--rules", "testdata/bad-rules"}, 1, nil,
			[]string{"testdata/bad-rules/bad.yaml:6:"}},
		{"test the pack", []string{"rules", "test", "--rules", repo + "/rules"}, 0,
			[]string{"ok   OT-009", "ok   OT-013", "17 fixtures passed"}, nil},
		{"test one fixture", []string{"rules", "test", "--rules", repo + "/rules", "OT-015"}, 0,
			[]string{"ok   OT-015 (1 alerts)", "1 fixtures passed"}, nil},
		{"failing fixture prints the diff", []string{"rules", "test", "--rules", broken}, 1,
			[]string{"FAIL OT-015", "no alert of OT-015", "- missing    OT-015 high event=ot015-50-storm-write"},
			[]string{"1 of 1 fixtures failed"}},
		{"explain names the failing clause", []string{"rules", "explain", "--rules", repo + "/rules", "OT-001", evFile}, 0,
			[]string{"condition FAILS", `✗ operation == "program_download" -> false`, "=> the event does not match"}, nil},
		{"explain a match", []string{"rules", "explain", "--rules", repo + "/rules", "OT-002", evFile}, 0,
			[]string{"condition holds", "=> the event matches: one alert"}, nil},
		{"explain an unknown rule", []string{"rules", "explain", "--rules", repo + "/rules", "OT-999", evFile}, 1, nil,
			[]string{"no rule OT-999"}},
		{"no subcommand", []string{"rules"}, 2, nil, []string{"c981 rules check"}},
		{"explain needs two arguments", []string{"rules", "explain", "OT-001"}, 2, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
		})
	}
}
