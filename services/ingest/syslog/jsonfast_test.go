package syslog

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// checkFastFlatten compares flattenJSON (the fast path, with its
// fallback) and fastFlattenJSON alone with the general flattener: the
// same error, the same leaves and the same tracked state.
func checkFastFlatten(t *testing.T, data string) (fast bool) {
	t.Helper()
	generalSet, gas := newFieldSet(nil), aliasState{}
	gerr := flattenJSONGeneral(data, generalSet, &gas)
	general := asMap(generalSet)

	// With and without the state's settings (kept when the fast path
	// gives up).
	for _, noView := range []bool{false, true} {
		gotSet, as := newFieldSet(nil), aliasState{valid: true, noView: noView}
		wantSet, was := newFieldSet(nil), aliasState{valid: true, noView: noView}
		err := flattenJSON(data, gotSet, &as)
		werr := flattenJSONGeneral(data, wantSet, &was)
		got, want := asMap(gotSet), asMap(wantSet)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("flattenJSON(%q) error %v, general flattener %v", data, err, werr)
		}
		if err == nil && (!maps.Equal(got, want) || !reflect.DeepEqual(as, was)) {
			t.Fatalf("flattenJSON(%q) differs from the general flattener\ngot:  %v %+v\nwant: %v %+v", data, got, as, want, was)
		}
	}

	fmSet, fas := newFieldSet(nil), aliasState{}
	if !fastFlattenJSON(data, fmSet, &fas) {
		return false
	}
	fm := asMap(fmSet)
	if gerr != nil {
		t.Fatalf("fastFlattenJSON accepted %q, the general flattener: %v", data, gerr)
	}
	if !maps.Equal(fm, general) || !reflect.DeepEqual(fas, gas) {
		t.Fatalf("fastFlattenJSON(%q) differs from the general flattener\ngot:  %v %+v\nwant: %v %+v", data, fm, fas, general, gas)
	}
	return true
}

var fastFlattenSeeds = []string{
	`{}`, `{"a":1}`, `{"a":{}}`, `{"a":[]}`, `{"a":[[],{}]}`, `{"a":[1,[2,{"b":3}]],"c":{"d":{"e":"f"}}}`,
	`{"a":true,"b":false,"c":null,"d":-0.5e+3,"e":0,"f":12.25E-1}`, `{"a":"é","b":"\xff"}`,
	`{"a":"x\"y"}`, `{"a": 1}`, `{"":1}`, `{"a":{"":1}}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":1}x`, `{"a":01}`,
	`{"a":tru}`, `{"a":nul}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":[1}`, `{"a":{"b":1]}`, `{"a"}`, `{"a":`,
	`{"a":1,"a":2}`, `{"alert":{"signature":"s"},"alert.signature":"dup"}`,
	strings.Repeat(`{"a":`, 7) + `[1]` + strings.Repeat(`}`, 7), strings.Repeat(`{"a":`, 8) + `[1]` + strings.Repeat(`}`, 8),
	strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32),
	strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat(`}`, 33),
	`{"k":"` + strings.Repeat("x", 200) + `","` + strings.Repeat("y", 150) + `":{"z":[1]}}`,
}

// TestFastFlattenJSON checks the fast path against the general
// flattener, and that the usual records (the bench EVE line, the EVE and
// Zeek goldens written compactly) take it.
func TestFastFlattenJSON(t *testing.T) {
	for _, s := range fastFlattenSeeds {
		t.Run(s, func(t *testing.T) { checkFastFlatten(t, s) })
	}
	for _, l := range benchLines {
		if l.name == "eve" && !checkFastFlatten(t, string(l.raw)) {
			t.Errorf("the bench EVE record does not take the fast path")
		}
	}
	if !checkFastFlatten(t, `{"ts":1732615201.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5020,"proto":"tcp","tags":["a","b"]}`) {
		t.Errorf("a compact Zeek record does not take the fast path")
	}
}

func FuzzFastFlattenJSON(f *testing.F) {
	addGoldenSeeds(f, "eve_", "zeek_", "json_")
	for _, s := range fastFlattenSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFastFlatten(t, string(data)) })
}
