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
		set.Match(ev)
	})
}
