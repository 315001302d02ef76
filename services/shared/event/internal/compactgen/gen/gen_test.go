package gen

import (
	"os"
	"strings"
	"testing"
)

// TestCompact checks the generation from the real event.go and compact.go
// and that what the generator does not know, or a field without a
// position, is refused rather than passed through.
func TestCompact(t *testing.T) {
	typeSrc, err := os.ReadFile("../../../event.go")
	if err != nil {
		t.Fatal(err)
	}
	orderSrc, err := os.ReadFile("../../../compact.go")
	if err != nil {
		t.Fatal(err)
	}
	code, err := Compact(typeSrc, orderSrc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"func (z *Event) appendCompact(o []byte) []byte {",
		"func (z *Maint) unmarshalCompactShared(bts []byte, d *sharedText) (o []byte, err error) {",
		"z.ID, bts, err = d.readString(bts)",
		"bts, err = z.Src.unmarshalCompactShared(bts, d)",
		"z.Time, bts, err = readCompactTime(bts)",
		"z.zeroCompactFrom(46)",
		// Event.fieldsRaw: skipped as a field, the raw companion of Fields.
		"z.fieldsRaw, bts, err = d.readRawMap(bts, \"Fields\")",
		// Event.fieldsPairs: skipped as a field, the pairs companion of
		// Fields, written in its place and dropped by the decoders.
		"if z.Fields == nil && z.fieldsPairs != nil {\n\t\to = appendStringPairs(o, *z.fieldsPairs)",
		"s += sizeStringPairs(*z.fieldsPairs)",
		"z.fieldsPairs = nil\n\tif d.rawMap != nil {",
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated code lacks %q", want)
		}
	}

	const order = "package event\nvar compactOrder = map[string][]string{\"Event\": {%s}}\n"
	tests := []struct {
		name, types, order, want string
	}{
		{"field without a position", "package event\ntype Event struct{ A, B string }\n", `"A"`, `Event.B is not in compactOrder["Event"]`},
		{"position without a field", "package event\ntype Event struct{ A string }\n", `"A", "C"`, "C is not a field of Event"},
		{"field twice", "package event\ntype Event struct{ A string }\n", `"A", "A"`, "A listed twice"},
		{"unknown type", "package event\ntype Event struct{ A []int }\n", `"A"`, "type []int: the compact codec does not know it"},
		{"nested type without an order", "package event\ntype Event struct{ A Other }\ntype Other struct{}\n", `"A"`, "type Other"},
		{"embedded field", "package event\ntype Event struct{ Other }\n", `"Other"`, "embedded field Other"},
		{"no struct", "package event\n", `"A"`, "no struct Event"},
		{"not a string", "package event\ntype Event struct{ A string }\n", `A`, "not a string literal"},
		{"raw companion of the wrong type", "package event\ntype Event struct{ A map[string]string; aRaw []byte }\n", `"A"`, "raw companion of A has type []byte"},
		{"pairs companion of the wrong type", "package event\ntype Event struct{ A map[string]string; aPairs []string }\n", `"A"`, "pairs companion of A has type []string"},
		{"two raw companions", "package event\ntype Event struct{ A, B map[string]string; aRaw, bRaw *[]byte }\n", `"A", "B"`, "at most one map field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compact([]byte(tt.types), []byte(strings.Replace(order, "%s", tt.order, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// An unexported field is not a position; a map without a companion
	// has no raw decoding.
	code, err = Compact([]byte("package event\ntype Event struct{ A map[string]string; b int }\n"), []byte(strings.Replace(order, "%s", `"A"`, 1)))
	if err != nil {
		t.Fatalf("unexported field: %v", err)
	}
	if strings.Contains(string(code), "z.b") || strings.Contains(string(code), "rawMap") || strings.Contains(string(code), "Pairs") {
		t.Fatalf("unexported field or raw decoding in the code:\n%s", code)
	}
	if _, err := Compact(typeSrc, []byte("package event\n")); err == nil || !strings.Contains(err.Error(), "no var compactOrder") {
		t.Fatalf("order file without the var: err = %v", err)
	}
}
