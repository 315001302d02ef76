package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPrivateFile covers the modes a key or secret file may have:
// owner-only always; group-readable only when root owns the file (a
// Kubernetes secret volume with fsGroup); never group-writable or
// world-accessible.
func TestCheckPrivateFile(t *testing.T) {
	root := os.Getuid() == 0
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		mode   os.FileMode
		owner  int // -1: the test's user
		wantOK bool
	}{
		{"owner only", 0o600, -1, true},
		{"owner read only", 0o400, -1, true},
		{"group readable, owned by root", 0o640, 0, true},
		{"group readable, root-owned 0440", 0o440, 0, true},
		{"group readable, owned by a user", 0o640, 65534, false},
		{"group writable, owned by root", 0o660, 0, false},
		{"world readable, owned by root", 0o644, 0, false},
		{"world readable", 0o604, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.owner >= 0 && !root {
				t.Skip("changing a file's owner needs root")
			}
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(p, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := CheckPrivateFile(p)
			if tc.wantOK && err != nil {
				t.Errorf("mode %#o owner %d refused: %v", tc.mode, tc.owner, err)
			}
			if !tc.wantOK && (err == nil || !strings.Contains(err.Error(), "readable by group or others")) {
				t.Errorf("mode %#o owner %d: err = %v, want a mode error", tc.mode, tc.owner, err)
			}
		})
	}
	if err := CheckPrivateFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
	if err := CheckPrivateFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
