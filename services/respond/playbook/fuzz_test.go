package playbook

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// FuzzParse feeds arbitrary bytes to the playbook loader: it must return
// playbooks or an error, never panic, and a loaded playbook must evaluate
// against an incident without panicking.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../../playbooks/*.yaml", "testdata/invalid/*.yaml", "testdata/dup/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("playbooks: [{id: P, title: T, applies_to: 'target.purdue > 1', steps: [{id: s, kind: action, action: reboot, audience: operator, timeout: 1h}]}]"))
	inc := event.Incident{ID: "i", Site: "s", Severity: "high", RuleIDs: []string{"OT-001"}, Target: event.Endpoint{Purdue: 1, Role: "plc"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		pbs, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, p := range pbs {
			_, _ = p.Applies(&inc)
			for i := range p.Steps {
				s := &p.Steps[i]
				_, _ = s.PreconditionsHold(&inc)
				if s.DisplayText() == "" && s.Kind != "action" && s.Kind != "notify" {
					t.Fatalf("step %s of kind %s has no text", s.ID, s.Kind)
				}
			}
		}
	})
}
