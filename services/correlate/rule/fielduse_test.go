package rule

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

func TestReadsFields(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{``, false},
		{`operation == "write"`, false},
		{`src_ip == "fields"`, false},                 // a string, not the map
		{`dst.role in controller_roles`, false},       // no fields anywhere
		{`maint_allows(maint, "mode_change")`, false}, // helpers see what they are given
		{`fields["unit"] == "3"`, true},
		{`fields.unit == "3"`, true},
		{`operation == "write" and fields.mode in ["run", "program"]`, true},
		{`"unit" in fields`, true},
		{`len(fields) > 0`, true},
		{`fields == nil`, true},
		{`any(keys(fields), # == "unit")`, true},
		{`let f = fields; f.unit == "3"`, true},
		{`$env.src_ip == "10.0.0.1"`, true}, // $env reaches every field
		{`$env["fields"]["unit"] == "3"`, true},
		{`src.fields == "x"`, false}, // a member name, not the map (does not compile anyway)
		{`operation ==`, true},       // does not parse: taken to read them
	}
	for _, tt := range tests {
		if got := readsFields(tt.src); got != tt.want {
			t.Errorf("readsFields(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

// fieldParts lists the parts of r that read fields, as decided at
// compile time.
func fieldParts(r *Rule) []string {
	var out []string
	if r.condFields {
		out = append(out, "condition")
	}
	if r.keyFields {
		out = append(out, "keys")
	}
	for i, st := range r.Steps {
		if st.condFields {
			out = append(out, "steps["+strconv.Itoa(i)+"].condition")
		}
		if st.byFields {
			out = append(out, "steps["+strconv.Itoa(i)+"].by")
		}
	}
	if r.describeFields {
		out = append(out, "describe")
	}
	return out
}

// TestRuleReadsFieldsParts checks the compile-time decision for every
// part of a rule that can read fields.
func TestRuleReadsFieldsParts(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want []string
	}{
		{"none", `condition: operation == "write"
    fields: [src_ip, dst.role, maint.window_id]`, nil},
		{"condition", `condition: operation == "write" and fields.unit == "3"`, []string{"condition"}},
		{"group_by", `kind: threshold
    condition: operation == "write"
    group_by: [src_ip, 'fields["unit"]']
    threshold: 2
    window: 1m`, []string{"keys"}},
		{"distinct", `kind: distinct
    condition: operation == "read"
    group_by: [src_ip]
    distinct: fields.note
    threshold: 2
    window: 1m`, []string{"keys"}},
		{"step condition", `kind: sequence
    within: 5m
    group_by: [src_ip]
    steps:
      - condition: operation == "program_upload"
      - condition: fields.mode == "run"`, []string{"steps[1].condition"}},
		{"step by, and the rule's group_by as the default by", `kind: sequence
    within: 5m
    group_by: [fields.unit]
    steps:
      - condition: operation == "program_upload"
        by: [src_ip]
      - condition: operation == "write"`, []string{"keys", "steps[1].by"}},
		{"absence key", `kind: absence
    condition: dst.role == "plc"
    group_by: [fields.unit]
    interval: 5m`, []string{"keys"}},
		{"incident_key", `condition: operation == "write"
    incident_key: fields.unit`, []string{"describe"}},
		{"summary", `condition: operation == "write"
    summary: '"unit " + fields["unit"]'`, []string{"describe"}},
		{"alert fields", `condition: operation == "write"
    fields: [src_ip, fields.unit]`, []string{"describe"}},
		{"env", `condition: $env.operation == "write"`, []string{"condition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "rules:\n  - id: F-1\n    title: T\n    severity: low\n    " + tt.rule + "\n"
			rules, err := Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			r := rules[0]
			if got := fieldParts(r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parts reading fields %v, want %v", got, tt.want)
			}
			if r.ReadsFields() != (len(tt.want) > 0) {
				t.Errorf("ReadsFields() = %v, want %v", r.ReadsFields(), len(tt.want) > 0)
			}
		})
	}
}

// rawEvents returns evs as the correlation service decodes them
// (event.UnmarshalEventsRawFields: Fields left raw) and as
// event.UnmarshalEventsShared decodes them (with their maps).
func rawEvents(t *testing.T, evs []event.Event) (raw, maps []event.Event) {
	t.Helper()
	data, err := event.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = event.UnmarshalEventsRawFields(data, nil); err != nil {
		t.Fatal(err)
	}
	if maps, err = event.UnmarshalEventsShared(data, nil); err != nil {
		t.Fatal(err)
	}
	return raw, maps
}

// TestEvalDecodesFieldsOnlyForReaders checks that Eval (and Describe,
// KeyText, Explain) gives an event its Fields map exactly when a rule
// that reads fields sees it, and that the results equal those of the
// event decoded with its map.
func TestEvalDecodesFieldsOnlyForReaders(t *testing.T) {
	base := func(op, role string, fields map[string]string) event.Event {
		return event.Event{ID: "e-" + op + role, Site: "s", Operation: op, SrcIP: "10.0.0.1", DstIP: "10.0.0.2",
			Dst: event.Endpoint{Role: role, AssetID: "a-" + role}, Fields: fields}
	}
	evs := []event.Event{
		base("write", "plc", map[string]string{"unit": "3", "mode": "run"}),
		base("write", "historian", map[string]string{"unit": "4"}),
		base("read", "plc", map[string]string{"unit": "5"}),
		base("write", "plc", map[string]string{}),
		base("write", "plc", nil),
	}
	tests := []struct {
		name  string
		rules string
		// decoded says which events must have their map after Eval.
		decoded []bool
	}{
		{"no rule reads fields", `
  - id: A
    title: A
    severity: low
    condition: operation == "write"
    fields: [src_ip, dst.role]
  - id: B
    title: B
    severity: low
    kind: threshold
    condition: operation == "read"
    group_by: [src_ip]
    threshold: 2
    window: 1m`, []bool{false, false, false, false, false}},
		{"condition of write rules", `
  - id: A
    title: A
    severity: low
    condition: operation == "write" and fields.unit != "4"`, []bool{true, true, false, true, false}},
		{"alert fields of matches only", `
  - id: A
    title: A
    severity: low
    condition: operation == "write" and dst.role == "plc"
    fields: [fields.unit, fields.mode]`, []bool{true, false, false, true, false}},
		{"key of a stateful rule", `
  - id: A
    title: A
    severity: low
    kind: threshold
    condition: operation == "read"
    group_by: [fields.unit]
    threshold: 2
    window: 1m`, []bool{false, false, true, false, false}},
		{"step by", `
  - id: A
    title: A
    severity: low
    kind: sequence
    within: 1m
    steps:
      - condition: operation == "write" and dst.role == "historian"
        by: [fields.unit]
      - condition: operation == "read"
        by: [src_ip]`, []bool{false, true, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := Parse("t.yaml", []byte("rules:"+tt.rules+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			set, err := NewSet(rules...)
			if err != nil {
				t.Fatal(err)
			}
			raw, maps := rawEvents(t, evs)
			m, ref := set.NewMatcher(), set.NewMatcher()
			for i := range raw {
				if raw[i].Fields != nil || raw[i].NumFields() != len(evs[i].Fields) {
					t.Fatalf("event %d: decoded with %d fields, %d in the map, want them raw", i, len(raw[i].Fields), raw[i].NumFields())
				}
				gm, gh, gerr := m.Eval(&raw[i], nil, nil)
				wm, wh, werr := ref.Eval(&maps[i], nil, nil)
				if !reflect.DeepEqual(gm, wm) || !reflect.DeepEqual(gh, wh) || !reflect.DeepEqual(gerr, werr) {
					t.Errorf("event %d: Eval %+v %+v %v, with its map %+v %+v %v", i, gm, gh, gerr, wm, wh, werr)
				}
				if got := raw[i].Fields != nil; got != tt.decoded[i] {
					t.Errorf("event %d: decoded %v, want %v", i, got, tt.decoded[i])
				}
				for _, r := range set.Enabled() {
					g, _ := m.Describe(r, &raw[i])
					w, _ := ref.Describe(r, &maps[i])
					if !reflect.DeepEqual(g, w) {
						t.Errorf("event %d: Describe(%s) %+v, with its map %+v", i, r.ID, g, w)
					}
					for step := range max(len(r.Steps), 1) {
						if g, w := m.KeyText(r, step, &raw[i]), ref.KeyText(r, step, &maps[i]); g != w {
							t.Errorf("event %d: KeyText(%s, %d) %q, with its map %q", i, r.ID, step, g, w)
						}
					}
					g2, err := r.Explain(&raw[i])
					w2, err2 := r.Explain(&maps[i])
					if err != nil || err2 != nil || !reflect.DeepEqual(g2, w2) {
						t.Errorf("event %d: Explain(%s) %+v %v, with its map %+v %v", i, r.ID, g2, err, w2, err2)
					}
					if r.ReadsFields() && !reflect.DeepEqual(raw[i].Fields, maps[i].Fields) {
						t.Errorf("event %d: after %s: fields %#v, with its map %#v", i, r.ID, raw[i].Fields, maps[i].Fields)
					}
				}
			}
		})
	}
}

// BenchmarkEvalRawFields evaluates the rule pack against events whose
// Fields were left raw (the service's decoder) and against the same
// events with their maps: the rules that read no fields cost the same,
// and no map is built.
func BenchmarkEvalRawFields(b *testing.B) {
	set, err := LoadDir("../../../rules")
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, 100)
	for i := range evs {
		evs[i] = event.Event{ID: "e" + strconv.Itoa(i), Site: "s", Kind: "flow", Operation: []string{"read", "write", ""}[i%3],
			SrcIP: "10.20.2.11", DstIP: "10.20.1.11", DstPort: 502, AppProto: "modbus",
			Dst:    event.Endpoint{Role: "plc", Known: true, Purdue: 1, ZoneKind: "control"},
			Fields: map[string]string{"rule": "r" + strconv.Itoa(i%7), "iface": "eth1"}}
	}
	data, err := event.Marshal(evs)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"raw", "maps"} {
		b.Run("fields="+mode, func(b *testing.B) {
			m := set.NewMatcher()
			var buf []event.Event
			var matches []Match
			var hits []Hit
			b.ReportAllocs()
			for b.Loop() {
				if mode == "raw" {
					buf, err = event.UnmarshalEventsRawFields(data, buf)
				} else {
					buf, err = event.UnmarshalEventsShared(data, buf)
				}
				if err != nil {
					b.Fatal(err)
				}
				for i := range buf {
					matches, hits, _ = m.Eval(&buf[i], matches[:0], hits[:0])
				}
			}
		})
	}
}
