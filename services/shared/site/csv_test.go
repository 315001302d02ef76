package site

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestImportCSV(t *testing.T) {
	m, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := len(m.Assets)
	f, err := os.Open("testdata/csv/sensor-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ImportCSV(m, f, "sensor-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Updated != 1 || strings.Join(res.Ignored, ",") != "Site Notes" {
		t.Errorf("result = %+v", res)
	}
	if want := "t/ews,t/plc-40,t/10.0.9.7,t/10.0.1.50"; strings.Join(res.Assets, ",") != want {
		t.Errorf("assets = %v, want %s", res.Assets, want)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("merged model does not validate: %v", err)
	}
	if len(m.Assets) != before+3 {
		t.Fatalf("%d assets, want %d", len(m.Assets), before+3)
	}
	got := AssetsYAML(m.Assets)
	const golden = "testdata/csv/sensor-export.golden.yaml"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("assets differ from %s (run with -update and review):\n%s", golden, got)
	}
	// The rendered section parses back into the same assets.
	m2, err := Parse("roundtrip.yaml", []byte("version: 1\nsite: {id: t, timezone: UTC}\nzones:\n"+zonesOf(t)+got))
	if err != nil {
		t.Fatalf("rendered assets do not load: %v", err)
	}
	if len(m2.Assets) != len(m.Assets) || m2.Assets[before].MACs[0] != "00:1d:9c:c0:04:a0" || m2.Assets[before+2].Model != "LaserJet, 4000" || !m2.Assets[before+1].Safety || m2.Assets[before+1].Role != "sis" {
		t.Errorf("round trip: %+v", m2.Assets[before:])
	}
}

func zonesOf(t *testing.T) string {
	t.Helper()
	return `  - {id: t/sup, kind: supervisory, purdue_level: 2, security_level: {target: 2}, cidrs: [10.0.2.0/24]}
  - {id: t/ctl, kind: control, purdue_level: 1, security_level: {target: 2}, cidrs: [10.0.1.0/24, "fd00:1::/64"]}
  - {id: t/sis, kind: safety, purdue_level: 1, security_level: {target: 3}, safety: true, cidrs: [10.0.9.0/28]}
`
}

func TestImportCSVErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"empty", "", []string{"in.csv: empty CSV file (a header row is required)"}},
		{"no key column", "vendor,model\nA,B\n", []string{"in.csv:1: the header names no id, ip, hostname or name column"}},
		{"duplicate column", "name,label\na,b\n", []string{`in.csv:1: columns "label" map to the same field name`}},
		{"bad rows", mustRead(t, "testdata/csv/bad-rows.csv"), []string{
			`in.csv:2: safety "maybe" is not true/false/yes/no`,
			`in.csv:3: no id, hostname, name or ip to identify the asset`,
			`in.csv:4: purdue_level "one" is not a number`,
		}},
		{"broken quoting", "name,ip\n\"a,10.0.1.1\n", []string{`in.csv: parse error on line 2, column 13: extraneous or missing " in quoted-field`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load("testdata/good.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, err = ImportCSV(m, strings.NewReader(tt.data), "in.csv")
			if err == nil {
				t.Fatal("ImportCSV succeeded")
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") && !strings.HasPrefix(got, tt.want[0]) {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if len(tt.want) > 1 && err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
	// Valid rows of a file with bad rows are still merged; the caller decides.
	m, _ := Load("testdata/good.yaml")
	res, _ := ImportCSV(m, strings.NewReader(mustRead(t, "testdata/csv/bad-rows.csv")), "in.csv")
	if res.Added != 1 || res.Assets[0] != "t/x3" || m.Assets[len(m.Assets)-1].PurdueLevel == nil || *m.Assets[len(m.Assets)-1].PurdueLevel != 1.5 {
		t.Errorf("valid rows of a bad file: %+v", res)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
