package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const repo = "../../.."

// run calls Main and returns its exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (rerun with -update after checking):\n%s", path, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant %s\n got %s", i+1, w, g)
		}
	}
	return ""
}

const now = "2026-11-26T12:00:00Z"

func TestParseCommand(t *testing.T) {
	scenario := repo + "/deploy/demo/scenario.log"
	code, out, errs := run(t, "", "parse", "--now", now, "--site-id", "demo-plant", scenario)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "parse-scenario.golden.jsonl", out)
	for _, want := range []string{
		scenario + ":13: truncated_header",
		scenario + ":22: bad_pri",
		"parsed 25 lines: 23 events, 2 errors",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestParseCommandCases(t *testing.T) {
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{name: "stdin, one good one bad", stdin: "<13>Nov 26 10:00:00 host app: hello\n<999>1 bad\n",
			args: []string{"parse", "--now", now}, stdout: []string{`"message":"hello"`},
			stderr: []string{"-:2: bad_pri", "parsed 2 lines: 1 events, 1 errors"}},
		{name: "forced rfc5424 rejects 3164", stdin: "<13>Nov 26 10:00:00 host app: hello\n",
			args: []string{"parse", "--format", "rfc5424", "--now", now}, noStdout: true,
			stderr: []string{"-:1:", "parsed 1 lines: 0 events, 1 errors"}},
		{name: "blank lines are skipped", stdin: "\n\n",
			args: []string{"parse"}, noStdout: true, stderr: []string{"parsed 0 lines"}},
		{name: "unknown format", args: []string{"parse", "--format", "xml"}, code: 1, stderr: []string{"unknown --format"}},
		{name: "missing file", args: []string{"parse", "testdata/no-such-file"}, code: 1, stderr: []string{"no-such-file"}},
		{name: "bad flag", args: []string{"parse", "--nope"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errs)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tc.noStdout && out != "" {
				t.Errorf("unexpected stdout:\n%s", out)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
		})
	}
}

func TestAnalyzeCommand(t *testing.T) {
	code, out, errs := run(t, "", "analyze", "--now", now,
		"--site", repo+"/deploy/demo/site.yaml", "--rules", repo+"/rules", "--playbooks", repo+"/playbooks",
		repo+"/deploy/demo/scenario.log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "analyze-scenario.golden.jsonl", out)
	if !strings.Contains(errs, "analyzed 25 lines: 23 events, 2 errors") {
		t.Errorf("summary missing:\n%s", errs)
	}
	// The SIS write yields a critical incident whose plans never allow an
	// automatic step that is not passive.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"type":"plan"`) && strings.Contains(line, `"class":"intrusive"`) &&
			strings.Contains(line, `"decision":"allowed"`) && strings.Contains(line, "sis-01") {
			t.Errorf("intrusive step allowed for the SIS: %s", line)
		}
	}
}

func TestAnalyzeStartupErrors(t *testing.T) {
	site := repo + "/deploy/demo/site.yaml"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"rule that does not compile names file:line", []string{"--site", site, "--rules", "testdata/bad-rules", "--playbooks", repo + "/playbooks"}, "testdata/bad-rules/bad.yaml:6:"},
		{"playbook that does not compile names file:line", []string{"--site", site, "--rules", repo + "/rules", "--playbooks", "testdata/bad-playbooks"}, "testdata/bad-playbooks/bad.yaml:5:"},
		{"missing site model", []string{"--site", "testdata/none.yaml", "--rules", repo + "/rules", "--playbooks", repo + "/playbooks"}, "none.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, "", append([]string{"analyze"}, tc.args...)...)
			if code != 1 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q", code, errs, tc.want)
			}
		})
	}
	if code, _, _ := run(t, "", "analyze"); code != 2 {
		t.Errorf("analyze without --site: exit %d, want 2", code)
	}
}

func TestCommands(t *testing.T) {
	if code, out, _ := run(t, "", "help"); code != 0 || !strings.Contains(out, "c981 run") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, _, errs := run(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, ""); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code, _, errs := run(t, "", "enrich"); code != 1 || !strings.Contains(errs, "nats") {
		t.Errorf("stage without --nats: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "run", "--config", "testdata/none.yaml"); code != 1 || !strings.Contains(errs, "none.yaml") {
		t.Errorf("run with a missing config: exit %d %s", code, errs)
	}
}
