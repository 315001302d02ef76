package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

const (
	packDir  = "../../../playbooks"
	demoSite = "../../../deploy/demo/site.yaml"
	fixtureN = "2026-11-26T10:45:00Z"
)

func TestPlanCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"safety system as markdown", []string{"plan", "--site", demoSite, "--playbooks", packDir, "--now", fixtureN, "--format", "markdown", "../../../playbooks/testdata/PB-OT-02/incident.json"}, "plan-PB-OT-02.golden.md"},
		{"conduit violation as json, site directory", []string{"plan", "--site", "../../../deploy/demo", "--playbooks", packDir, "--now", fixtureN, "../../../playbooks/testdata/PB-OT-03/into-control-zone/incident.json"}, "plan-PB-OT-03.golden.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestPlanCommandJSONShape(t *testing.T) {
	inc, err := os.ReadFile("../../../playbooks/testdata/PB-OT-06/incident.json")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, string(inc), "plan", "--site", demoSite, "--playbooks", packDir, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got planOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got.Plans {
		ids = append(ids, p.PlaybookID)
		for _, st := range p.Steps {
			if st.Action == "active_scan" && st.Decision != event.DecisionForbidden {
				t.Errorf("active scan %s", st.Decision)
			}
		}
	}
	if strings.Join(ids, ",") != "PB-OT-06,PB-OT-03,PB-OT-00" || len(got.Guidance.DoNot) < 4 {
		t.Errorf("plans %v, do-not %d", ids, len(got.Guidance.DoNot))
	}
}

func TestPlanCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no site", []string{"plan", "x.json"}, 2, "usage"},
		{"bad format", []string{"plan", "--site", demoSite, "--format", "pdf", "x.json"}, 2, "usage"},
		{"missing incident", []string{"plan", "--site", demoSite, "--playbooks", packDir, "nope.json"}, 1, "nope.json"},
		{"missing site", []string{"plan", "--site", "nope.yaml", "x.json"}, 1, "nope.yaml"},
		{"unknown incident field", []string{"plan", "--site", demoSite, "--playbooks", packDir, "testdata/bad-incident.json"}, 1, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want %d containing %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}
