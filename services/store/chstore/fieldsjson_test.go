package chstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// refJSONString is the JSON string of s as FieldsJSONColumn describes it,
// written rune by rune (ranging over a string yields utf8.RuneError for
// every byte that is not part of valid UTF-8): the reference the fast
// appendJSONString is checked against.
func refJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// refFieldsJSON is the fields_json of an event whose Fields map is m,
// built with refJSONString.
func refFieldsJSON(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(refJSONString(k))
		b.WriteByte(':')
		b.WriteString(refJSONString(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// TestAppendJSONString checks the escaping of names and values against
// goldens and the reference, that the result is valid JSON, and that it
// decodes to what encoding/json makes of the same string (invalid bytes
// replaced by U+FFFD one by one).
func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "allow 10.20.1.11:502", `"allow 10.20.1.11:502"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"control bytes", "\x00\x01\n\r\t\x1f", `"\u0000\u0001\u000a\u000d\u0009\u001f"`},
		{"DEL and space kept", "\x7f ~", "\"\x7f ~\""},
		{"html and separators kept", "<a&b>\u2028\u2029", "\"<a&b>\u2028\u2029\""},
		{"valid UTF-8 kept", "é€😀", `"é€😀"`},
		{"invalid byte", "a\xffb", "\"a\uFFFDb\""},
		{"truncated sequence", "x\xe2\x82", "\"x\uFFFD\uFFFD\""},
		{"overlong encoding", "\xc0\xaf", "\"\uFFFD\uFFFD\""},
		{"surrogate", "\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},
		{"U+FFFD itself", "\uFFFD", "\"\uFFFD\""},
		{"escape after multibyte", "é\"\x01", `"é\"\u0001"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendJSONString([]byte("prefix"), tt.in))
			if !strings.HasPrefix(got, "prefix") {
				t.Fatalf("appendJSONString dropped dst: %q", got)
			}
			got = got[len("prefix"):]
			if got != tt.want {
				t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if ref := refJSONString(tt.in); got != ref {
				t.Errorf("appendJSONString(%q) = %s, reference %s", tt.in, got, ref)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("%s is not valid JSON", got)
			}
			var dec, std string
			if err := json.Unmarshal([]byte(got), &dec); err != nil {
				t.Fatal(err)
			}
			enc, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(enc, &std); err != nil {
				t.Fatal(err)
			}
			if dec != std {
				t.Errorf("decodes to %q; encoding/json's encoding decodes to %q", dec, std)
			}
		})
	}
}

// TestFieldsJSON checks the fields_json of events against goldens, from
// every source of fields (Fields map, raw MessagePack map, SetFieldPairs),
// through EventRow's fieldsJSON, AppendFieldsJSON and the block builder:
// members sorted by name, the last value of a name given twice, {} for no
// fields.
func TestFieldsJSON(t *testing.T) {
	// A raw map holding "dupA" twice: the last value ("2") wins.
	// (Pairs, not a map: a map's order would be random.)
	dupPairs := []string{"dupA", "1", "dupB", "2", "c", "3"}
	dupEvent := event.Event{ID: "x"}
	dupEvent.SetFieldPairs(&dupPairs)
	dup, err := event.MarshalEvents([]event.Event{dupEvent})
	if err != nil {
		t.Fatal(err)
	}
	dup = bytes.Replace(dup, []byte("dupB"), []byte("dupA"), 1)
	tests := []struct {
		name   string
		fields map[string]string // the event's fields, or
		data   []byte            // a bus batch of one event
		want   string
	}{
		{"nil", nil, nil, `{}`},
		{"empty", map[string]string{}, nil, `{}`},
		{"sorted by name", map[string]string{"op": "write", "app": "modbus", "dport": "502", "Z": "upper"}, nil,
			`{"Z":"upper","app":"modbus","dport":"502","op":"write"}`},
		{"empty name and value", map[string]string{"": "", "a": ""}, nil, `{"":"","a":""}`},
		{"escaped name and value", map[string]string{"k\"ey": "v\\al\n", "ctl\x01": "\xff"}, nil,
			"{\"ctl\\u0001\":\"\uFFFD\",\"k\\\"ey\":\"v\\\\al\\u000a\"}"},
		{"duplicate name, last wins", nil, dup, `{"c":"3","dupA":"2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == nil {
				if data, err = event.MarshalEvents([]event.Event{{ID: "x", Fields: tt.fields}}); err != nil {
					t.Fatal(err)
				}
			}
			raw, mapped := decodeBoth(t, data)
			sources := map[string]*event.Event{"map": &mapped[0], "raw": &raw[0]}
			if tt.fields != nil {
				var pairs []string
				for _, k := range slices.Sorted(maps.Keys(tt.fields)) {
					pairs = append([]string{k, tt.fields[k]}, pairs...) // reversed: not sorted
				}
				var e event.Event
				e.SetFieldPairs(&pairs)
				sources["pairs"] = &e
			}
			for name, e := range sources {
				if got := fieldsJSON(e); got != tt.want {
					t.Errorf("%s: fieldsJSON = %s, want %s", name, got, tt.want)
				}
				if got := string(AppendFieldsJSON(nil, e)); got != tt.want {
					t.Errorf("%s: AppendFieldsJSON = %s, want %s", name, got, tt.want)
				}
				var blk eventBlock
				blk.fieldsJSON([]*event.Event{e, e})
				if blk.fj[0] != tt.want || blk.fj[1] != tt.want {
					t.Errorf("%s: block fieldsJSON = %s %s, want %s twice", name, blk.fj[0], blk.fj[1], tt.want)
				}
				var m map[string]string
				if err := json.Unmarshal([]byte(tt.want), &m); err != nil {
					t.Fatalf("golden %s: %v", tt.want, err)
				}
			}
		})
	}
}

// TestDecodeStoredFields checks the fields read from a stored row: the
// fields_json object when not empty, the arrays of an older row
// otherwise, nil for none, an error for a fields_json that is not an
// object of strings.
func TestDecodeStoredFields(t *testing.T) {
	tests := []struct {
		name       string
		json       string
		keys, vals []string
		want       map[string]string
		wantErr    bool
	}{
		{"json", `{"a":"1","b":"x\"\u0001"}`, nil, nil, map[string]string{"a": "1", "b": "x\"\x01"}, false},
		{"json wins over arrays", `{"a":"1"}`, []string{"a"}, []string{"old"}, map[string]string{"a": "1"}, false},
		{"empty object", `{}`, nil, nil, nil, false},
		{"old row", "", []string{"a", "b"}, []string{"1", "2"}, map[string]string{"a": "1", "b": "2"}, false},
		{"old row, key without value", "", []string{"a", "b"}, []string{"1"}, map[string]string{"a": "1"}, false},
		{"no fields", "", nil, nil, nil, false},
		{"not json", `{"a":`, nil, nil, nil, true},
		{"not strings", `{"a":1}`, nil, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStoredFields(tt.json, tt.keys, tt.vals)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("DecodeStoredFields = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFieldsJSONServer stores events through the writer's path
// (InsertEvents) and an older row with the Nested arrays only, and reads
// them back from the real server: ReadEvents gives every event its fields,
// and visitParamExtractString reads each member of fields_json as its
// value (what services/c981/verify does).
func TestFieldsJSONServer(t *testing.T) {
	conn := migrated(t)
	ctx := context.Background()
	evs := benchEvents(3)
	evs[0].Fields = map[string]string{"run": "r-1", "seq": "17", "odd": "a\"b\\c\x01é\xff", "": "empty name", "a": `"run":"fake","seq":"0"`}
	evs[1].Fields = nil
	evs[2].Fields = map[string]string{"run": "r-2", "seq": "18"}
	old := benchEvents(4)[3]
	old.Fields = map[string]string{"run": "r-old", "seq": "19"}
	ptrs := []*event.Event{&evs[0], &evs[1], &evs[2]}
	if err := InsertEvents(ctx, conn, ptrs, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The old row: its fields in the arrays, fields_json left empty, as a
	// store of an earlier release writes it.
	oldCols := []string{"id", "site", "time", "time_ms", "received_at", "received_ms", "raw", "fields.key", "fields.value"}
	ot, oms := DateTime(old.Time)
	rt, rms := DateTime(old.ReceivedAt)
	keys, vals := NestedKV(old.Fields)
	if err := Insert(ctx, conn, TableEvents, oldCols, [][]any{{old.ID, old.Site, ot, oms, rt, rms, old.Raw, keys, vals}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{evs[0].ID: evs[0].Fields, evs[1].ID: nil, evs[2].ID: evs[2].Fields, old.ID: old.Fields}
	// encoding/json's reading of the invalid byte.
	want[evs[0].ID] = maps.Clone(evs[0].Fields)
	want[evs[0].ID]["odd"] = "a\"b\\c\x01é\uFFFD"
	got := map[string]map[string]string{}
	n, err := ReadEvents(ctx, conn, EventRange{From: evs[0].Time.Add(-time.Hour), To: evs[0].Time.Add(time.Hour)}, func(page []event.Event) error {
		for _, e := range page {
			got[e.ID] = e.Fields
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read %d events, want %d", n, len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || !maps.Equal(g, w) {
			t.Errorf("event %s: fields %q, want %q", id, g, w)
		}
	}
	// The SQL reading of verify: the member when fields_json is set, the
	// array element otherwise.
	for id, w := range want {
		for _, name := range []string{"run", "seq", "odd", "a", "missing"} {
			var v string
			q := "SELECT if(fields_json != '', visitParamExtractString(fields_json, ?), fields.value[indexOf(fields.key, ?)]) FROM events WHERE id = ?"
			if err := conn.QueryRow(ctx, q, name, name, id).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != w[name] {
				t.Errorf("event %s: member %q read %q in SQL, want %q", id, name, v, w[name])
			}
		}
	}
	var jsonRows, arrayRows uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(fields_json != '' AND empty(fields.key)), countIf(fields_json = '' AND notEmpty(fields.key)) FROM events").Scan(&jsonRows, &arrayRows); err != nil {
		t.Fatal(err)
	}
	if jsonRows != 3 || arrayRows != 1 {
		t.Errorf("%d rows with fields_json only, %d with arrays only; want 3 and 1", jsonRows, arrayRows)
	}
}

// BenchmarkFieldsJSON measures encoding the fields_json of plant events
// whose fields were left raw (the store's decoding), per event: the block
// builder (eventBlock.fieldsJSON, InsertBlockRows events a call) and the
// per-row path (EventRow's fieldsJSON). It reports events/s.
func BenchmarkFieldsJSON(b *testing.B) {
	gen := benchEvents(InsertBlockRows)
	for i := range gen {
		for j := range 9 { // ~17 fields, as the demo plant's events
			gen[i].Fields["extra"+strconv.Itoa(j)] = "value-" + strconv.Itoa(i*j)
		}
	}
	raw, _ := rawAndMapEvents(b, gen)
	ptrs := make([]*event.Event, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	b.Run("block", func(b *testing.B) {
		var blk eventBlock
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			blk.fieldsJSON(ptrs)
			n += len(ptrs)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("row", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for _, e := range ptrs {
				_ = fieldsJSON(e)
			}
			n += len(ptrs)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})
}

// FuzzAppendJSONString checks appendJSONString against refJSONString on
// any string (the seeds cover every class of byte at every position of
// the 8-byte words the fast path reads).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "12345678", "1234567\"", "\\2345678", "1234\x00678", "123456789abcdef\x1f",
		"\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f", "\x20\x20\x20\x20\x20\x20\x20\x20", "\xff1234567", "1234567é", "ééééé", "abcdefgh\xe2\x82", "😀😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(appendJSONString(nil, s))
		if want := refJSONString(s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("appendJSONString(%q) = %s: not valid JSON", s, got)
		}
	})
}

// TestFieldSetWays checks that a block's events of as many fields but
// alternating field sets, up to fieldWays of them, are matched after
// their first occurrence (only the first event of each set is sorted),
// and that more sets than ways still give every event its object.
func TestFieldSetWays(t *testing.T) {
	tests := []struct {
		name       string
		sets       int // distinct field sets of 2 fields, cycled
		rounds     int
		wantSorted int // events sorted (not matched)
	}{
		{"one set", 1, 4, 1},
		{"two sets alternating", 2, 4, 2},
		{"as many sets as ways", fieldWays, 3, fieldWays},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []*event.Event
			for r := range tt.rounds {
				for set := range tt.sets {
					evs = append(evs, &event.Event{Fields: map[string]string{"k" + strconv.Itoa(set): strconv.Itoa(r), "z": "v"}})
				}
			}
			var blk eventBlock
			blk.fieldsJSON(evs)
			for i, e := range evs {
				if want := refFieldsJSON(e.Fields); blk.fj[i] != want {
					t.Fatalf("event %d: %s, want %s", i, blk.fj[i], want)
				}
			}
			// Count the sorts: events a fresh set does not match.
			var f fieldSet
			sorted := 0
			vals := make([]string, 2)
			for _, e := range evs {
				if f.match(e, vals) == nil {
					sorted++
					keys, _ := sortedKV(e, make([]string, 4), new([]kvPair))
					f.add(keys)
				}
			}
			if sorted != tt.wantSorted {
				t.Errorf("%d events sorted, want %d", sorted, tt.wantSorted)
			}
		})
	}
}
