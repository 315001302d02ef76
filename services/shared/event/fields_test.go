package event

import (
	"bytes"
	"maps"
	"reflect"
	"strconv"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// rangedFields collects RangeFields of e into a map (the last value of a
// key yielded twice wins, as in the map decoding) and counts the pairs.
func rangedFields(e *Event) (map[string]string, int) {
	m, n := map[string]string{}, 0
	for k, v := range e.RangeFields {
		m[k] = v
		n++
	}
	return m, n
}

// checkRawAgainstShared checks the events raw (UnmarshalEventsRawFields)
// against want (UnmarshalEventsShared of the same data): the same fields
// through NumFields and RangeFields, a nil Fields map where it was left
// raw, and, after DecodeFields, equal events.
func checkRawAgainstShared(t *testing.T, raw, want []Event) {
	t.Helper()
	if len(raw) != len(want) {
		t.Fatalf("%d events, want %d", len(raw), len(want))
	}
	for i := range raw {
		e := &raw[i]
		got, n := rangedFields(e)
		if !maps.Equal(got, want[i].Fields) {
			t.Fatalf("event %d: RangeFields = %v, want %v", i, got, want[i].Fields)
		}
		if e.NumFields() != n {
			t.Fatalf("event %d: NumFields = %d, RangeFields yielded %d", i, e.NumFields(), n)
		}
		if e.fieldsRaw != nil && e.Fields != nil {
			t.Fatalf("event %d: both a Fields map and raw fields", i)
		}
		e.DecodeFields()
		if e.fieldsRaw != nil {
			t.Fatalf("event %d: raw fields left after DecodeFields", i)
		}
	}
	if len(want) > 0 && !reflect.DeepEqual(raw, want) {
		t.Fatalf("after DecodeFields:\n got %+v\nwant %+v", raw, want)
	}
}

// TestUnmarshalEventsRawFields checks, for every batch of sharedBatches
// (compact and map-form records, events with no, empty, one, three and
// 300 fields), that the raw-fields decoder leaves the Fields of compact
// records raw and that iterating them gives the map decoder's fields,
// also when it decodes into a slice holding earlier events.
func TestUnmarshalEventsRawFields(t *testing.T) {
	stale, err := UnmarshalEventsRawFields(sharedBatches(t)["mixed"], nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range sharedBatches(t) {
		t.Run(name, func(t *testing.T) {
			want, err := UnmarshalEventsShared(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, dst := range [][]Event{nil, append([]Event(nil), stale...)} {
				raw, err := UnmarshalEventsRawFields(data, dst)
				if err != nil {
					t.Fatal(err)
				}
				for i := range raw {
					compact := name != "map" && (name != "mixed-forms" || i%2 == 0)
					if compact && raw[i].Fields != nil {
						t.Fatalf("event %d: compact record decoded to a Fields map", i)
					}
					if !compact && (raw[i].fieldsRaw != nil || (want[i].Fields != nil) != (raw[i].Fields != nil)) {
						t.Fatalf("event %d: map-form record: Fields %v, raw %v", i, raw[i].Fields, raw[i].fieldsRaw)
					}
				}
				checkRawAgainstShared(t, raw, want)
			}
		})
	}
}

// TestRangeFields checks the iteration of a compact record's raw fields
// by the number of fields, the strings sharing the message, and an
// iteration stopped early.
func TestRangeFields(t *testing.T) {
	many := map[string]string{}
	for i := range 40 {
		many["key"+strconv.Itoa(i)] = "value" + strconv.Itoa(i)
	}
	tests := []struct {
		name   string
		fields map[string]string
		raw    bool // whether the decoded event has raw fields
	}{
		{"nil", nil, false},
		{"empty", map[string]string{}, true},
		{"one", map[string]string{"k": "v"}, true},
		{"empty strings", map[string]string{"": ""}, true},
		{"many", many, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := MarshalEvents([]Event{{ID: "x", Fields: tt.fields}})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := UnmarshalEventsRawFields(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := &evs[0]
			if e.Fields != nil || (e.fieldsRaw != nil) != tt.raw {
				t.Fatalf("Fields %v, raw %v; want a nil map and raw fields %v", e.Fields, e.fieldsRaw, tt.raw)
			}
			got, n := rangedFields(e)
			if !maps.Equal(got, tt.fields) || n != len(tt.fields) || e.NumFields() != len(tt.fields) {
				t.Fatalf("RangeFields = %v (%d pairs), NumFields %d; want %v", got, n, e.NumFields(), tt.fields)
			}
			for k, v := range e.RangeFields {
				for _, s := range []string{k, v} {
					if s != "" && !bytes.Contains(data, []byte(s)) {
						t.Fatalf("%q is not in the message", s)
					}
				}
			}
			stops := 0
			for range e.RangeFields {
				stops++
				break
			}
			if want := min(1, len(tt.fields)); stops != want {
				t.Fatalf("iteration stopped after %d pairs, want %d", stops, want)
			}
			e.DecodeFields()
			if tt.raw && !maps.Equal(e.Fields, tt.fields) || e.fieldsRaw != nil || (e.Fields == nil) != (tt.fields == nil) {
				t.Fatalf("DecodeFields: Fields %v, raw %v; want %v", e.Fields, e.fieldsRaw, tt.fields)
			}
		})
	}
	// A Fields map set on an event with raw fields takes precedence.
	data, err := MarshalEvents([]Event{{ID: "x", Fields: map[string]string{"raw": "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := UnmarshalEventsRawFields(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs[0].Fields = map[string]string{"map": "2", "other": "3"}
	if got, _ := rangedFields(&evs[0]); !maps.Equal(got, evs[0].Fields) || evs[0].NumFields() != 2 {
		t.Fatalf("RangeFields = %v, NumFields %d; want the map %v", got, evs[0].NumFields(), evs[0].Fields)
	}
}

// TestRangeFieldsDuplicateKey checks a raw map holding a key twice, which
// no encoder writes: RangeFields yields both pairs, DecodeFields keeps the
// last value, as the map decoding does.
func TestRangeFieldsDuplicateKey(t *testing.T) {
	data, err := MarshalEvents([]Event{{ID: "x", Fields: map[string]string{"dupA": "first", "dupB": "second"}}})
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("dupB"), []byte("dupA"), 1)
	want, err := UnmarshalEventsShared(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := UnmarshalEventsRawFields(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw[0].RangeFields {
		keys = append(keys, k)
	}
	if len(keys) != 2 || keys[0] != "dupA" || keys[1] != "dupA" || raw[0].NumFields() != 2 {
		t.Fatalf("RangeFields keys %v, NumFields %d; want dupA twice", keys, raw[0].NumFields())
	}
	if len(want[0].Fields) != 1 {
		t.Fatalf("map decoding: %v", want[0].Fields)
	}
	checkRawAgainstShared(t, raw, want)
}

// TestUnmarshalEventsRawFieldsCorrupt checks that corrupt Fields are
// rejected when decoded, with the map decoder's error.
func TestUnmarshalEventsRawFieldsCorrupt(t *testing.T) {
	good, err := MarshalEvents([]Event{{ID: "x", Fields: map[string]string{"kk": "vv"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"value not a string", bytes.Replace(good, []byte{0xa2, 'v', 'v'}, []byte{0x01, 0xc0, 0xc0}, 1)},
		{"key not a string", bytes.Replace(good, []byte{0xa2, 'k', 'k'}, []byte{0x01, 0xc0, 0xc0}, 1)},
		{"count beyond the bytes", bytes.Replace(good, []byte{0x81, 0xa2, 'k', 'k'}, []byte{0xdf, 0x00, 0x10, 0x00}, 1)},
		{"map not a map", bytes.Replace(good, []byte{0x81, 0xa2, 'k', 'k'}, []byte{0x01, 0xa2, 'k', 'k'}, 1)},
		{"truncated", good[:len(good)-40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, serr := UnmarshalEventsShared(tt.data, nil)
			_, rerr := UnmarshalEventsRawFields(tt.data, nil)
			if serr == nil || rerr == nil || serr.Error() != rerr.Error() {
				t.Fatalf("raw-fields err %v, shared err %v; want the same error", rerr, serr)
			}
		})
	}
}

// FuzzUnmarshalEventsRawFields checks on arbitrary input that the
// raw-fields decoder accepts exactly what UnmarshalEventsShared accepts,
// with the same error, and that its events iterate to the same fields and
// equal the shared decoder's after DecodeFields.
func FuzzUnmarshalEventsRawFields(f *testing.F) {
	for _, data := range sharedBatches(f) {
		f.Add(data)
	}
	f.Add([]byte{0x92, 0x90, 0x93, 0xa1, 'x', 0x01, 0xc0})
	f.Add([]byte{0x91, 0xdc, 0x00, 0x29, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, serr := UnmarshalEventsShared(data, nil)
		raw, rerr := UnmarshalEventsRawFields(data, nil)
		if (serr == nil) != (rerr == nil) || (serr != nil && serr.Error() != rerr.Error()) {
			t.Fatalf("raw-fields err %v, shared err %v", rerr, serr)
		}
		if serr != nil {
			return
		}
		checkRawAgainstShared(t, raw, want)
	})
}

// BenchmarkDecodeFields compares, on a 1,000-event batch of plant events
// (ten fields each, compact records), UnmarshalEventsShared (a Fields map
// per event) with UnmarshalEventsRawFields and one RangeFields pass per
// event (what the store does), both into a reused slice.
func BenchmarkDecodeFields(b *testing.B) {
	const events = 1000
	data := plantBatch(b, events)
	var sink int
	decoders := []struct {
		name   string
		decode func([]byte, []Event) ([]Event, error)
	}{
		{"map", UnmarshalEventsShared},
		{"raw", UnmarshalEventsRawFields},
	}
	for _, d := range decoders {
		b.Run("fields="+d.name, func(b *testing.B) {
			var dst []Event
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = d.decode(data, dst); err != nil {
					b.Fatal(err)
				}
				for i := range dst {
					for k, v := range dst[i].RangeFields {
						sink += len(k) + len(v)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
		})
	}
	_ = sink
}

// TestSetFieldPairs checks an event whose fields are pairs
// (SetFieldPairs) against the same event with the map of the pairs: its
// compact record is the map's record with the pairs written in their
// order (byte for byte), sizeCompact bounds it, every decoder gives the
// map event's result, NumFields, RangeFields (in order) and FieldPairs
// read the pairs, DecodeFields turns them into the map, and decoding into
// the event drops them.
func TestSetFieldPairs(t *testing.T) {
	many := make([]string, 0, 600)
	for i := range 300 {
		many = append(many, "key."+strconv.Itoa(i), strconv.Itoa(i))
	}
	tests := []struct {
		name  string
		pairs []string // nil: SetFieldPairs(nil)
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"one", []string{"src", "10.0.0.1"}},
		{"empty strings", []string{"", "", "k", ""}},
		{"three", []string{"src", "10.0.0.1", "dport", "502", "msg", "write register"}},
		{"300", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mapped map[string]string
			if tt.pairs != nil {
				mapped = map[string]string{}
				for i := 0; i < len(tt.pairs); i += 2 {
					mapped[tt.pairs[i]] = tt.pairs[i+1]
				}
			}
			withMap := fullEvent()
			withMap.Fields = mapped
			withPairs := fullEvent()
			var p *[]string
			if tt.pairs != nil {
				p = &tt.pairs
			}
			withPairs.Fields = map[string]string{"dropped": "by SetFieldPairs"}
			withPairs.SetFieldPairs(p)

			// The record: the nil-Fields record with the pairs' map
			// (or nil) in the place of its nil.
			noFields := fullEvent()
			noFields.Fields = nil
			rec0 := noFields.appendCompact(nil)
			noFields.Fields = map[string]string{}
			at := 0
			for rec1 := noFields.appendCompact(nil); rec0[at] == rec1[at]; at++ {
			}
			want := append([]byte(nil), rec0[:at]...)
			if p == nil {
				want = append(want, 0xc0)
			} else {
				want = msgp.AppendMapHeader(want, uint32(len(tt.pairs)/2))
				for _, s := range tt.pairs {
					want = msgp.AppendString(want, s)
				}
			}
			want = append(want, rec0[at+1:]...)
			got := withPairs.appendCompact(nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("record differs from the map's in pair order\n got % x\nwant % x", got, want)
			}
			if s := withPairs.sizeCompact(); s < len(got) {
				t.Fatalf("sizeCompact %d < %d bytes written", s, len(got))
			}

			data, err := MarshalEvents([]Event{withPairs})
			if err != nil {
				t.Fatal(err)
			}
			if back := decodeAll(t, data); !reflect.DeepEqual(back[0].Fields, mapped) {
				t.Fatalf("decoded Fields %v, want %v", back[0].Fields, mapped)
			}

			if withPairs.FieldPairs() != p || withPairs.NumFields() != len(tt.pairs)/2 {
				t.Fatalf("FieldPairs %v, NumFields %d; want %v, %d", withPairs.FieldPairs(), withPairs.NumFields(), p, len(tt.pairs)/2)
			}
			var ranged []string
			for k, v := range withPairs.RangeFields {
				ranged = append(ranged, k, v)
			}
			if len(ranged) != len(tt.pairs) || len(ranged) > 0 && !reflect.DeepEqual(ranged, tt.pairs) {
				t.Fatalf("RangeFields yielded %q, want %q", ranged, tt.pairs)
			}
			decoded := withPairs
			decoded.DecodeFields()
			if decoded.FieldPairs() != nil || !reflect.DeepEqual(decoded, withMap) {
				t.Fatalf("DecodeFields: %+v\nwant %+v", decoded, withMap)
			}

			// Decoding a record into the event replaces the pairs.
			into, full := withPairs, fullEvent()
			if _, err := into.unmarshalCompact(full.appendCompact(nil)); err != nil {
				t.Fatal(err)
			}
			if into.fieldsPairs != nil || !maps.Equal(into.Fields, full.Fields) {
				t.Fatalf("decoding kept the pairs: %v, Fields %v", into.fieldsPairs, into.Fields)
			}
			short := withPairs
			short.zeroCompactFrom(0) // what a record of no values decodes to
			if short.fieldsPairs != nil {
				t.Fatal("zeroCompactFrom kept the pairs")
			}
		})
	}
}

// BenchmarkAppendFields compares the compact encoding of 1000 parsed
// events whose fields are a map with the same events whose fields are
// pairs (SetFieldPairs, the ingest parser's form).
func BenchmarkAppendFields(b *testing.B) {
	evs := make([]Event, 1000)
	pairs := make([][]string, len(evs))
	for i := range evs {
		kv := []string{"run", "bench", "seq", strconv.Itoa(i), "sent", "1795687200000000000", "action", "allow",
			"src", "10.20.2.31", "dst", "10.20.3.10", "proto", "tcp", "sport", strconv.Itoa(40000 + i), "dport", "5450",
			"app", "historian", "policy", "scada-hist", "msg", "historian replication batch sent, 1000 tags"}
		pairs[i] = kv
		e := fullEvent()
		e.Fields = map[string]string{}
		for j := 0; j < len(kv); j += 2 {
			e.Fields[kv[j]] = kv[j+1]
		}
		evs[i] = e
	}
	var buf []byte
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendEvents(buf[:0], evs)
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	for i := range evs {
		evs[i].SetFieldPairs(&pairs[i])
	}
	b.Run("pairs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendEvents(buf[:0], evs)
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
}
