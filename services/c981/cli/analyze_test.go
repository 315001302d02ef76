package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeNewPair runs analyze with one rule on flow.new_pair over the
// demo scenario: it fires once per endpoint pair (a reply or a repeat is
// not new), as in the enrich stage.
func TestAnalyzeNewPair(t *testing.T) {
	rules := t.TempDir()
	const rule = `rules:
  - id: T-NEWPAIR
    title: First flow between two endpoints
    description: Test rule on the new_pair derived field.
    severity: low
    kind: match
    condition: flow.new_pair
    fields: [src_ip, dst_ip]
`
	if err := os.WriteFile(filepath.Join(rules, "newpair.yaml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", "analyze", "--now", now,
		"--site", repo+"/deploy/demo/site.yaml", "--rules", rules, "--playbooks", repo+"/playbooks",
		repo+"/deploy/demo/scenario.log")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	pairs := map[string]bool{}
	alerts := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec analyzeRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec.Type != "alert" {
			continue
		}
		alerts++
		a, b := endpointKey(rec.Alert.Src.AssetID, rec.Alert.Fields["src_ip"]), endpointKey(rec.Alert.Dst.AssetID, rec.Alert.Fields["dst_ip"])
		if a > b {
			a, b = b, a
		}
		if pairs[a+" "+b] {
			t.Errorf("second new_pair alert for %s - %s", a, b)
		}
		pairs[a+" "+b] = true
	}
	// The scenario has 23 events, most of them flows, several between the
	// same endpoints.
	if alerts < 3 || alerts >= 23 {
		t.Errorf("%d new_pair alerts; want one per distinct pair of the 23 events", alerts)
	}
}

func endpointKey(assetID, ip string) string {
	if assetID != "" {
		return assetID
	}
	return ip
}
