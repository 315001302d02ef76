package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/good.yaml")
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
	write("sites/b.yml", "version: 1\nsite: {id: b, timezone: UTC}\n")
	write("sites/a.yaml", string(good))
	write("sites/notes.txt", "not a model")
	write("sites/.hidden.yaml", "broken: [")
	write("dup/t.yaml", string(good))
	write("bad/x.yaml", "version: 0\nsite: {id: x, timezone: UTC}\n")
	write("bad/y.yaml", "version: 1\nsite: {id: y}\n")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	ms, err := LoadAll(filepath.Join(dir, "sites"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Site.ID != "t" || ms[1].Site.ID != "b" {
		t.Errorf("LoadAll(dir) = %d models", len(ms))
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"duplicate site", []string{filepath.Join(dir, "sites"), filepath.Join(dir, "dup")}, []string{`dup/t.yaml: site "t" is already described by`}},
		{"every bad file reported", []string{filepath.Join(dir, "bad")}, []string{"bad/x.yaml:1: version must be a positive integer, got 0", "bad/y.yaml:2: site.timezone is required"}},
		{"empty directory", []string{filepath.Join(dir, "empty")}, []string{"has no *.yaml or *.yml files"}},
		{"missing", []string{filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml: no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadAll(tt.paths...)
			if err == nil {
				t.Fatal("LoadAll succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
