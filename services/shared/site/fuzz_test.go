package site

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary YAML to the strict loader and validator: it must
// return a model or an error, never panic, and a model it accepts must
// validate again and compile every window schedule.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	if b, err := os.ReadFile("../../../deploy/demo/site.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a model that Validate rejects: %v", err)
		}
		loc := m.Location()
		for i := range m.MaintenanceWindows {
			s, err := m.MaintenanceWindows[i].Schedule(loc)
			if err != nil {
				t.Fatalf("valid window does not compile: %v", err)
			}
			s.Open(time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC))
			s.Next(time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC))
		}
	})
}

// FuzzImportCSV feeds arbitrary CSV to the asset import: it must not panic,
// and it must never touch the existing assets' ids.
func FuzzImportCSV(f *testing.F) {
	files, _ := filepath.Glob("testdata/csv/*.csv")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("ip\n10.0.1.5\n"))
	f.Add([]byte("id,ip,safety,purdue_level\nt/plc,fd00:1::5;10.0.1.7,yes,1.5\n"))
	good, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("good.yaml", good)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(m.Assets))
		for i, a := range m.Assets {
			ids[i] = a.ID
		}
		res, _ := ImportCSV(m, bytes.NewReader(data), "fuzz.csv")
		for i, id := range ids {
			if m.Assets[i].ID != id {
				t.Fatalf("asset %d id changed from %s to %s", i, id, m.Assets[i].ID)
			}
		}
		if len(m.Assets) != len(ids)+res.Added {
			t.Fatalf("%d assets, want %d + %d added", len(m.Assets), len(ids), res.Added)
		}
		_ = m.Validate() // must not panic on whatever was imported
		out := AssetsYAML(m.Assets)
		if !strings.HasPrefix(out, "assets:\n") {
			t.Fatalf("AssetsYAML = %q", out)
		}
	})
}
