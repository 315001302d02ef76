package rule

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

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

// FuzzNative checks that the native closures and expr's interpreter agree
// on every boolean expression both accept, for events built from the
// fuzzed values, and that the interpreter does not fail where the native
// form cannot.
func FuzzNative(f *testing.F) {
	for _, tt := range nativeExprs {
		f.Add(tt.src, "program_download", "10.20.1.11", 502, 2.0, true)
	}
	f.Add(`lower(outcome) == "failure" and dst.purdue <= 2.5`, "FAILURE", "fd00::1", -1, math.NaN(), false)
	f.Fuzz(func(t *testing.T, src, s1, s2 string, n int, fl float64, b bool) {
		if len(src) > 512 {
			return
		}
		p, err := compileExpr(src, expr.AsBool())
		if err != nil {
			return
		}
		native := nativeBool(src)
		if native == nil {
			return
		}
		evs := []event.Event{
			{Operation: s1, Outcome: s1, User: s2, SrcIP: s2, DstIP: s1, Kind: s1, DstPort: n, BytesOut: int64(n),
				Techniques: []string{s1}, Fields: map[string]string{"k": s1, "mode_to": s2},
				Src:   event.Endpoint{Role: s1, Zone: s2, ZoneKind: s1, Purdue: fl, Known: b, Safety: !b, AssetID: s2},
				Dst:   event.Endpoint{Role: s2, Zone: s1, ZoneKind: s2, Purdue: float64(n), Known: !b, SLT: n},
				Flow:  event.Flow{Allowed: b, NewPair: !b, PurdueDelta: fl},
				Maint: event.Maint{Active: b, AllowedOps: []string{s1}, AllowedSources: []string{s2}}},
			{},
		}
		env := newEnv()
		var machine vm.VM
		for i := range evs {
			env.set(&evs[i])
			out, err := machine.Run(p, env)
			if err != nil {
				t.Fatalf("%q: interpreter failed where the native form cannot: %v", src, err)
			}
			if got := native(&evs[i]); got != out.(bool) {
				t.Fatalf("%q on event %d: native %v, interpreter %v", src, i, got, out)
			}
		}
	})
}
