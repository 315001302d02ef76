package zone

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestEnrichGolden enriches the demo events in testdata/demo-events.json and
// compares the result with testdata/demo-events.golden.json (regenerate with
// go test -run TestEnrichGolden -update, then review the diff).
func TestEnrichGolden(t *testing.T) {
	ix := demoIndex(t)
	in, err := os.ReadFile("testdata/demo-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	if err := json.Unmarshal(in, &evs); err != nil {
		t.Fatalf("decode demo events: %v", err)
	}
	for i := range evs {
		ix.Enrich(&evs[i])
	}
	got, err := json.MarshalIndent(evs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/demo-events.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("enriched demo events differ from %s (run with -update and review the diff):\n%s", golden, got)
	}
}
