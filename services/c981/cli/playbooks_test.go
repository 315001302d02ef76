package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlaybooksCommand(t *testing.T) {
	code, out, errOut := run(t, "", "playbooks", "check", "--playbooks", packDir)
	if code != 0 || !strings.Contains(out, "playbooks valid") || !strings.Contains(out, "ok  PB-OT-01") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "", "playbooks", "test", "--playbooks", packDir)
	if code != 0 || !strings.Contains(out, "fixtures passed") {
		t.Fatalf("test: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = run(t, "", "playbooks", "check", "--playbooks", "testdata/bad-playbooks")
	if code != 1 || !strings.Contains(errOut, "bad.yaml") {
		t.Errorf("check of bad playbooks: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, "", "playbooks", "lint"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

// TestPlaybooksTestDiff changes one expected plan in a copy of the pack and
// checks that `playbooks test` fails with a diff of that line.
func TestPlaybooksTestDiff(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, packDir, dir)
	golden := filepath.Join(dir, "testdata", "PB-OT-06", "expected.json")
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), `"decision": "forbidden"`, `"decision": "allowed"`, 1)
	if bad == string(data) {
		t.Fatal("fixture has no forbidden step to tamper with")
	}
	if err := os.WriteFile(golden, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "playbooks", "test", "--playbooks", dir)
	if code != 1 || !strings.Contains(out, "FAIL PB-OT-06: plan differs") || !strings.Contains(out, `want:         "decision": "allowed"`) || !strings.Contains(errOut, "1 of") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// --update accepts the current plans.
	if code, out, _ := run(t, "", "playbooks", "test", "--playbooks", dir, "--update"); code != 0 || !strings.Contains(out, "updated PB-OT-06") {
		t.Fatalf("update: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "", "playbooks", "test", "--playbooks", dir); code != 0 {
		t.Fatalf("after update: exit %d", code)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
