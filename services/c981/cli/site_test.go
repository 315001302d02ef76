package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var demoSiteFile = filepath.Join(repo, "deploy/demo/site.yaml")

func TestSiteCheck(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile(demoSiteFile)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("two/a.yaml", string(demo))
	write("two/b.yaml", "version: 2\nsite: {id: b, timezone: UTC}\nzones:\n  - {id: b/z, kind: field, purdue_level: 0, security_level: {target: 1}, cidrs: [10.0.0.0/24]}\n")
	bad := write("bad.yaml", "version: 1\nsite: {id: x, timezone: UTC}\nzones:\n  - {id: x/z, kind: field, purdue_level: 0, security_level: {target: 1}, cidrs: [10.0.0.0/24]}\nassets:\n  - {id: x/a, role: plc, ips: [10.1.0.1]}\n")
	write("dup/a.yaml", string(demo))

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"demo", []string{"site", "check", demoSiteFile}, 0,
			[]string{"site.yaml: site demo-plant (Europe/Berlin) version 1: 2 areas, 6 zones (1 safety), 6 conduits (7 flows), 20 assets, 2 maintenance windows (1 recurring)\n1 sites, 6 zones, 6 conduits (7 flows), 20 assets, 2 maintenance windows\n"}, nil},
		{"directory", []string{"site", "check", filepath.Join(dir, "two")}, 0,
			[]string{"b.yaml: site b (UTC) version 2: 0 areas, 1 zones (0 safety), 0 conduits (0 flows), 0 assets, 0 maintenance windows (0 recurring)", "2 sites, 7 zones, 6 conduits (7 flows), 20 assets, 2 maintenance windows\n"}, nil},
		{"invalid", []string{"site", "check", demoSiteFile, bad}, 1,
			[]string{"1 sites, 6 zones", "; 1 of 2 files invalid"}, []string{bad + ":6: asset x/a ip 10.1.0.1 is in no zone's CIDRs", "c981 site: 1 of 2 site model files invalid"}},
		{"same site twice", []string{"site", "check", filepath.Join(dir, "two"), filepath.Join(dir, "dup")}, 1,
			nil, []string{`dup/a.yaml: site "demo-plant" is already described by`}},
		{"missing", []string{"site", "check", filepath.Join(dir, "nope")}, 1, nil, []string{"no such file or directory"}},
		{"no args", []string{"site", "check"}, 2, nil, []string{"usage:"}},
		{"no subcommand", []string{"site"}, 2, nil, []string{"c981 site check"}},
		{"unknown subcommand", []string{"site", "lint"}, 2, nil, []string{`unknown subcommand "lint"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, out, errs)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestSiteImportCSV(t *testing.T) {
	code, out, errs := run(t, "", "site", "import-csv", "--site", demoSiteFile, "testdata/site/inventory.csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "testdata/site/inventory.csv: 1 assets added, 1 updated\n"; errs != want {
		t.Errorf("stderr = %q, want %q", errs, want)
	}
	golden(t, "site/inventory.golden.yaml", out)

	outFile := filepath.Join(t.TempDir(), "assets.yaml")
	if code, _, errs := run(t, "", "site", "import-csv", "--site", demoSiteFile, "--out", outFile, "testdata/site/inventory.csv"); code != 0 {
		t.Fatalf("--out: exit %d: %s", code, errs)
	}
	if got, err := os.ReadFile(outFile); err != nil || string(got) != out {
		t.Errorf("--out wrote %q, %v", got, err)
	}

	// An asset outside every zone makes the merged model invalid: nothing is written.
	code, out, errs = run(t, "", "site", "import-csv", "--site", demoSiteFile, "testdata/site/outside.csv")
	if code != 1 || out != "" || !strings.Contains(errs, "is invalid (nothing written)") || !strings.Contains(errs, "asset demo-plant/stray ip 10.99.1.1 is in no zone's CIDRs") {
		t.Errorf("outside: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if code, _, errs := run(t, "", "site", "import-csv", "testdata/site/inventory.csv"); code != 2 || !strings.Contains(errs, "usage:") {
		t.Errorf("without --site: exit %d: %s", code, errs)
	}
}

// TestEnrichOffline enriches the parsed demo scenario with the demo plant.
func TestEnrichOffline(t *testing.T) {
	code, parsed, errs := run(t, "", "parse", "--now", now, filepath.Join(repo, "deploy/demo/scenario.log"))
	if code != 0 {
		t.Fatalf("parse: exit %d: %s", code, errs)
	}
	input := parsed + "{not json\n"
	var out, stderr bytes.Buffer
	if err := enrichOffline([]string{demoSiteFile}, nil, strings.NewReader(input), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	golden(t, "site/enrich-scenario.golden.jsonl", out.String())
	lines := strings.Count(parsed, "\n")
	wantSummary := "enriched " + itoa(lines) + " events with 1 site models:"
	if !strings.Contains(stderr.String(), wantSummary) || !strings.Contains(stderr.String(), "-:"+itoa(lines+1)+": not an event JSON object") || !strings.Contains(stderr.String(), "; 1 bad lines") {
		t.Errorf("stderr:\n%s\nwant %q", stderr.String(), wantSummary)
	}
	if !strings.Contains(out.String(), `"zone":"demo-plant/control"`) || !strings.Contains(out.String(), `"new_pair":true`) {
		t.Error("offline enrichment did not resolve the demo plant")
	}
}

// TestEnrichOfflineCommand runs `c981 enrich --site DIR` through Main; the
// stage command reads the process's stdin and writes its stdout.
func TestEnrichOfflineCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	outPath := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(in, []byte(`{"site":"demo-plant","time":"2026-11-26T10:00:00Z","src_ip":"10.20.2.11","dst_ip":"10.20.9.5","proto":"tcp","dst_port":502,"kind":"flow"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = stdin, stdout
	code, _, errs := run(t, "", "enrich", "--site", filepath.Join(repo, "deploy/demo"))
	os.Stdin, os.Stdout = oldIn, oldOut
	stdout.Close()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"violation":"no conduit between demo-plant/supervisory and demo-plant/safety"`) || !strings.Contains(string(got), `"safety_involved":true`) {
		t.Errorf("output: %s", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
