package rule

import (
	"errors"
	"os"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// FuzzParse checks that no rule file, however malformed, crashes the
// loader, and that every rule it accepts can be evaluated.
func FuzzParse(f *testing.F) {
	pack, err := os.ReadFile(packDir + "/ot-core.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pack)
	ext, err := os.ReadFile(packDir + "/ot-extended.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ext)
	f.Add([]byte(okRule))
	f.Add([]byte("rules:\n  - id: X\n    kind: sequence\n"))
	f.Add([]byte("rules:\n  - id: X\n    title: t\n    severity: low\n    condition: fields[\"a\"] + 1\n"))
	ev := &event.Event{ID: "e", Site: "s", SrcIP: "10.20.1.99", Fields: map[string]string{"a": "b"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		set, err := NewSet(rules...)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("NewSet error is not a LoadError: %v", err)
			}
			return
		}
		m := set.NewMatcher()
		_, hits, _ := m.Eval(ev, nil, nil)
		for _, h := range hits {
			m.KeyText(h.Rule, h.Step, ev)
			m.Describe(h.Rule, ev)
		}
		for _, r := range set.Rules() {
			if _, err := r.Explain(ev); err != nil {
				t.Fatalf("Explain of an accepted rule: %v", err)
			}
		}
	})
}
