package event

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/c981/c981/services/shared/event/internal/compactgen/gen"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/map-batch.msgpack (only from a map-form encoder)")

// marshalEventsForms encodes evs as a batch whose record i is compact when
// compact(i) and otherwise in the map form (Event.MarshalMsg: the records
// of every batch written before the compact form existed).
func marshalEventsForms(t testing.TB, evs []Event, compact func(int) bool) []byte {
	t.Helper()
	b := msgp.AppendArrayHeader(nil, uint32(len(evs)))
	for i := range evs {
		if compact(i) {
			b = evs[i].appendCompact(b)
			continue
		}
		var err error
		if b, err = evs[i].MarshalMsg(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// fullEvent returns an Event with every field, nested ones included, set
// to a non-zero value (TestFullEventIsFull checks it).
func fullEvent() Event {
	ts := time.Date(2026, 11, 26, 10, 0, 2, 123_456_789, time.UTC)
	return Event{
		ID: NewID("full"), Time: ts, ReceivedAt: ts.Add(7 * time.Millisecond), Site: "demo-plant", Source: "syslog-tcp",
		Format: "cef", Transport: "tls", Peer: "10.0.0.1:514", PeerIdentity: "CN=fw", TimeRaw: "Nov 26 10:00:02",
		Host: "fw-01", App: "fw", ProcID: "42", MsgID: "ID7", Facility: 16, Severity: 2, Message: "ünïcødé — message",
		Vendor: "V", Product: "P", SignatureID: "100", Signature: "sig", EventCode: "4720",
		Techniques: []string{"T0843", "T0836"}, Kind: KindAlert, Category: "malware", Action: "deny",
		Outcome: "failure", User: "op1", SrcIP: "10.20.2.11", DstIP: "10.20.1.11", SrcMAC: "00:11:22:33:44:55",
		DstMAC: "66:77:88:99:aa:bb", SrcPort: 40000, DstPort: 502, Proto: "tcp", AppProto: "modbus",
		BytesOut: 1 << 40, BytesIn: -1, Session: "s1", Operation: "program_download",
		Fields: map[string]string{"a": "1", "": "empty key", "empty": ""}, Raw: "<10>raw",
		Src: Endpoint{IP: "10.20.2.11", Known: true, AssetID: "a/ews", AssetName: "EWS", Role: "ews", Zone: "a/z",
			ZoneKind: "control", Purdue: 2.5, SLT: 3, Criticality: "high", Safety: true},
		Dst: Endpoint{IP: "10.20.1.11", Known: true, AssetID: "a/plc", AssetName: "PLC", Role: "plc", Zone: "a/c",
			ZoneKind: "safety", Purdue: 0.1, SLT: 4, Criticality: "critical", Safety: true},
		Flow: Flow{CrossZone: true, Allowed: true, Conduit: "c", FlowID: "f", Violation: "no conduit", NewPair: true,
			PurdueDelta: -1.5, SafetyInvolved: true},
		Maint: Maint{Active: true, WindowID: "w", AllowedOps: []string{"write"}, WorkOrder: "WO-1",
			AllowedSources: []string{"a/ews"}, AllowedUsers: []string{"op1", ""}},
		ModelVersion: 7,
	}
}

// checkAllSet fails for every exported field of v (a struct,
// recursively) that holds its zero value. Unexported fields are no part of
// the encodings (Event.fieldsRaw).
func checkAllSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		switch {
		case !v.Type().Field(i).IsExported():
		case f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]():
			checkAllSet(t, f, name)
		case f.IsZero():
			t.Errorf("%s is zero", name)
		}
	}
}

// TestFullEventIsFull keeps fullEvent complete: a field added to Event
// must be set there, so that the round-trip tests cover it.
func TestFullEventIsFull(t *testing.T) {
	checkAllSet(t, reflect.ValueOf(fullEvent()), "Event")
}

// TestCompactOrderCoversFields checks compactOrder against the struct
// definitions: every field of Event and of the structs in it has exactly
// one position, and every name in the order is a field. Unexported fields
// are no part of the record (Event.fieldsRaw) and have none.
func TestCompactOrderCoversFields(t *testing.T) {
	types := map[string]reflect.Type{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		types[rt.Name()] = rt
		for i := 0; i < rt.NumField(); i++ {
			if ft := rt.Field(i).Type; ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeFor[Event]())
	for name, rt := range types {
		order, ok := compactOrder[name]
		if !ok {
			t.Errorf("compactOrder has no entry for %s", name)
			continue
		}
		pos := map[string]int{}
		for i, f := range order {
			if _, dup := pos[f]; dup {
				t.Errorf("compactOrder[%s]: %s listed twice", name, f)
			}
			pos[f] = i
			if _, ok := rt.FieldByName(f); !ok {
				t.Errorf("compactOrder[%s]: %s is not a field", name, f)
			}
		}
		for i := 0; i < rt.NumField(); i++ {
			if _, ok := pos[rt.Field(i).Name]; !ok && rt.Field(i).IsExported() {
				t.Errorf("%s.%s has no compact position: append it to compactOrder[%q] and run go generate", name, rt.Field(i).Name, name)
			}
		}
	}
	if len(compactOrder) != len(types) {
		t.Errorf("compactOrder has %d types, Event uses %d", len(compactOrder), len(types))
	}
}

// TestCompactGenUpToDate checks that event_compact_gen.go is what
// compactgen derives from the current event.go and compact.go.
func TestCompactGenUpToDate(t *testing.T) {
	typeSrc, err := os.ReadFile("event.go")
	if err != nil {
		t.Fatal(err)
	}
	orderSrc, err := os.ReadFile("compact.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := gen.Compact(typeSrc, orderSrc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("event_compact_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("event_compact_gen.go is stale: run `cd services/shared && go generate ./event`")
	}
}

// decodeAll decodes data with every event batch decoder and fails unless
// they all agree; it returns their result.
func decodeAll(t *testing.T, data []byte) []Event {
	t.Helper()
	want, err := UnmarshalEvents(data)
	if err != nil {
		t.Fatalf("UnmarshalEvents: %v", err)
	}
	shared, err := UnmarshalEventsShared(data, nil)
	if err != nil {
		t.Fatalf("UnmarshalEventsShared: %v", err)
	}
	var viaUnmarshal EventBatch
	if err := Unmarshal(data, &viaUnmarshal); err != nil {
		t.Fatalf("Unmarshal(*EventBatch): %v", err)
	}
	reused := EventBatch{fullEvent(), fullEvent(), fullEvent()}[:0]
	rest, err := reused.UnmarshalMsg(data)
	if err != nil || len(rest) != 0 {
		t.Fatalf("EventBatch.UnmarshalMsg: %d bytes left, %v", len(rest), err)
	}
	for name, got := range map[string][]Event{"shared": shared, "Unmarshal": viaUnmarshal, "EventBatch.UnmarshalMsg": reused} {
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s differs from UnmarshalEvents:\n got %+v\nwant %+v", name, got, want)
		}
	}
	return want
}

// TestCompactRoundTrip checks that every decoder gives for a compact
// record exactly what the map form round-trips: every field, times in UTC
// without a monotonic reading (also from other zones, the zero time and
// instants beyond the int64 nanosecond range), empty lists as nil, empty
// and nil Fields kept apart.
func TestCompactRoundTrip(t *testing.T) {
	full := fullEvent()
	with := func(f func(*Event)) Event {
		e := fullEvent()
		f(&e)
		return e
	}
	tests := []struct {
		name string
		ev   Event
	}{
		{"full", full},
		{"zero", Event{}},
		{"zero times", with(func(e *Event) { e.Time, e.ReceivedAt = time.Time{}, time.Time{} })},
		{"zone and monotonic", with(func(e *Event) {
			e.Time = time.Now().In(time.FixedZone("CET", 3600))
			e.ReceivedAt = time.Now()
		})},
		{"beyond int64 nanoseconds", with(func(e *Event) {
			e.Time = time.Date(2263, 1, 1, 0, 0, 0, 1, time.UTC)
			e.ReceivedAt = time.Date(1677, 9, 21, 0, 12, 43, 999_999_999, time.UTC)
		})},
		{"nanosecond range edges", with(func(e *Event) {
			e.Time = time.Unix(0, 1<<63-1)
			e.ReceivedAt = time.Unix(0, -1<<63)
		})},
		{"empty lists and map", with(func(e *Event) {
			e.Techniques, e.Maint.AllowedOps, e.Fields = []string{}, []string{}, map[string]string{}
		})},
		{"nil lists and map", with(func(e *Event) { e.Techniques, e.Maint.AllowedUsers, e.Fields = nil, nil, nil })},
		{"special floats", with(func(e *Event) { e.Src.Purdue, e.Dst.Purdue, e.Flow.PurdueDelta = -1, 1e300, 0.1 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := []Event{tt.ev, tt.ev}
			wantMap := decodeAll(t, marshalEventsForms(t, evs, func(int) bool { return false }))
			data, err := MarshalEvents(evs)
			if err != nil {
				t.Fatal(err)
			}
			if !isCompactRecord(data[1:]) {
				t.Fatalf("MarshalEvents wrote a map-form record: % x", data[:8])
			}
			got := decodeAll(t, data)
			if !reflect.DeepEqual(got, wantMap) {
				t.Fatalf("compact round trip differs from the map form's:\n got %+v\nwant %+v", got, wantMap)
			}
			appended, err := AppendEvents([]byte("prefix"), evs)
			if err != nil || string(appended[:6]) != "prefix" || len(appended[6:]) != len(data) {
				t.Fatalf("AppendEvents differs from MarshalEvents (err %v)", err)
			}
			// Equal up to the order of Fields (a map).
			if again := decodeAll(t, appended[6:]); !reflect.DeepEqual(again, got) {
				t.Fatalf("AppendEvents decodes differently:\n got %+v\nwant %+v", again, got)
			}
			if size := EventBatch(evs).Msgsize(); size < len(data) {
				t.Fatalf("Msgsize %d < encoded %d bytes", size, len(data))
			}
		})
	}
	// Every field survives, not merely as the map form decodes it.
	data, err := Marshal([]Event{full})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeAll(t, data); !reflect.DeepEqual(got, []Event{full}) {
		t.Fatalf("full event differs:\n got %+v\nwant %+v", got[0], full)
	}
}

// TestMapFormBatches checks that map-form batches (old messages in the
// streams) and batches mixing both record forms decode as the compact
// ones do, including a golden batch written by the map-form encoder.
func TestMapFormBatches(t *testing.T) {
	events := sharedEvents(t)
	for name, evs := range events {
		t.Run(name, func(t *testing.T) {
			compact, err := MarshalEvents(evs)
			if err != nil {
				t.Fatal(err)
			}
			want := decodeAll(t, compact)
			for form, pick := range map[string]func(int) bool{
				"map":         func(int) bool { return false },
				"even map":    func(i int) bool { return i%2 == 1 },
				"odd map":     func(i int) bool { return i%2 == 0 },
				"all compact": func(int) bool { return true },
			} {
				if got := decodeAll(t, marshalEventsForms(t, evs, pick)); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s batch decodes differently:\n got %+v\nwant %+v", form, got, want)
				}
			}
		})
	}

	golden := []Event{events["full"][0], events["example"][0], events["bare"][0], events["emptymap"][0]}
	const path = "testdata/map-batch.msgpack"
	if *updateGolden {
		if err := os.WriteFile(path, marshalEventsForms(t, golden, func(int) bool { return false }), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if isCompactRecord(old[1:]) {
		t.Fatal("the golden batch is not in the map form")
	}
	compact, err := MarshalEvents(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeAll(t, old), decodeAll(t, compact); !reflect.DeepEqual(got, want) {
		t.Fatalf("golden map-form batch decodes differently:\n got %+v\nwant %+v", got, want)
	}
}

// splitValues returns the raw values of the array at the start of b.
func splitValues(t *testing.T, b []byte) [][]byte {
	t.Helper()
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([][]byte, n)
	for i := range vals {
		next, err := msgp.Skip(rest)
		if err != nil {
			t.Fatal(err)
		}
		vals[i], rest = rest[:len(rest)-len(next)], next
	}
	return vals
}

// joinValues returns the array of vals.
func joinValues(vals ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, uint32(len(vals)))
	return append(b, bytes.Join(vals, nil)...)
}

// zeroFrom returns v with the fields at compact positions k and later of
// type typ (a field of Event, "" for Event itself) set to zero.
func zeroFrom(v Event, typ string, k int) Event {
	rv := reflect.ValueOf(&v).Elem()
	name := "Event"
	if typ != "" {
		rv, name = rv.FieldByName(typ), rv.FieldByName(typ).Type().Name()
	}
	for _, f := range compactOrder[name][k:] {
		fv := rv.FieldByName(f)
		fv.Set(reflect.Zero(fv.Type()))
	}
	return v
}

// TestCompactEvolution checks the schema evolution rule: a record with
// fewer values (an older writer) decodes with the missing trailing fields
// zero, also into an Event that held values; a record with more values (a
// newer writer) decodes with the extra ones skipped; both for Event and
// for the structs in it.
func TestCompactEvolution(t *testing.T) {
	full := fullEvent()
	vals := splitValues(t, full.appendCompact(nil))
	extra := [][]byte{msgp.AppendString(nil, "new"), msgp.AppendMapHeader(nil, 0), joinValues([]byte{1}, []byte{2})}
	// nested returns vals with the value of the struct field at position
	// pos replaced by its first keep values, plus more.
	nested := func(pos, keep int, more ...[]byte) [][]byte {
		out := append([][]byte(nil), vals...)
		out[pos] = joinValues(append(append([][]byte(nil), splitValues(t, vals[pos])[:keep]...), more...)...)
		return out
	}
	n := len(compactOrder["Event"])
	tests := []struct {
		name string
		rec  []byte
		want Event
	}{
		{"no values", joinValues(), Event{}},
		{"id only", joinValues(vals[:1]...), zeroFrom(full, "", 1)},
		{"up to techniques", joinValues(vals[:23]...), zeroFrom(full, "", 23)},
		{"without nested", joinValues(vals[:42]...), zeroFrom(full, "", 42)},
		{"without the last", joinValues(vals[:n-1]...), zeroFrom(full, "", n-1)},
		{"all", joinValues(vals...), full},
		{"extra values", joinValues(append(append([][]byte(nil), vals...), extra...)...), full},
		{"short Src", joinValues(nested(42, 3)...), zeroFrom(full, "Src", 3)},
		{"long Dst", joinValues(nested(43, len(compactOrder["Endpoint"]), extra...)...), full},
		{"short Flow", joinValues(nested(44, 0)...), zeroFrom(full, "Flow", 0)},
		{"short Maint", joinValues(nested(45, 2)...), zeroFrom(full, "Maint", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, form := range []string{"allocating", "shared"} {
				got := fullEvent() // stale values the record must not leave behind
				var rest []byte
				var err error
				if form == "shared" {
					rest, err = got.unmarshalCompactShared(tt.rec, &sharedText{data: tt.rec, text: string(tt.rec)})
				} else {
					rest, err = got.unmarshalCompact(tt.rec)
				}
				if err != nil || len(rest) != 0 {
					t.Fatalf("%s: %d bytes left, %v", form, len(rest), err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("%s decodes to\n %+v\nwant %+v", form, got, tt.want)
				}
			}
			batch := append(msgp.AppendArrayHeader(nil, 2), append(tt.rec, tt.rec...)...)
			if got := decodeAll(t, batch); !reflect.DeepEqual(got, []Event{tt.want, tt.want}) {
				t.Fatalf("batch decodes to %+v", got)
			}
		})
	}
}

// TestCompactCorrupt checks that corrupt compact records fail in every
// decoder, and that counts beyond the bytes left are refused (short
// bytes) before anything is allocated for them.
func TestCompactCorrupt(t *testing.T) {
	full := fullEvent()
	vals := splitValues(t, full.appendCompact(nil))
	huge32 := []byte{0xff, 0xff, 0xff, 0xff}
	record := func(prefix int, tail ...byte) []byte {
		b := msgp.AppendArrayHeader(nil, uint32(prefix+1))
		b = append(b, bytes.Join(vals[:prefix], nil)...)
		return append(b, tail...)
	}
	tests := []struct {
		name  string
		rec   []byte
		short bool
	}{
		{"record of 2^32-1 values", append([]byte{0xdd}, huge32...), true},
		{"techniques of 2^32-1 strings", record(22, append([]byte{0xdd}, huge32...)...), true},
		{"fields map of 2^32-1 entries", record(40, append([]byte{0xdf}, huge32...)...), true},
		{"maint list of 2^32-1 strings", record(45, append([]byte{0x93, 0xc3, 0xa0, 0xdd}, huge32...)...), true},
		{"string where an int goes", record(14, 0xa1, 'x'), false},
		{"map where Src goes", record(42, 0x80), false},
		{"int beyond int64 as a time", record(1, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), false},
		{"truncated", joinValues(vals...)[:100], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append(msgp.AppendArrayHeader(nil, 1), tt.rec...)
			_, serr := UnmarshalEventsShared(data, nil)
			_, gerr := UnmarshalEvents(data)
			var b EventBatch
			_, berr := b.UnmarshalMsg(data)
			for name, err := range map[string]error{"shared": serr, "allocating": gerr, "EventBatch": berr} {
				if err == nil {
					t.Fatalf("%s: no error", name)
				}
				if tt.short && !errors.Is(err, msgp.ErrShortBytes) {
					t.Fatalf("%s: err = %v, want short bytes", name, err)
				}
			}
		})
	}
}

// plantBatch returns n plant events (plantEvent) as the batch
// MarshalEvents encodes (compact records), for the decoding benchmarks.
func plantBatch(tb testing.TB, n int) []byte {
	tb.Helper()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = plantEvent(i)
	}
	data, err := MarshalEvents(evs)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// plantEvent returns a realistic enriched event of a plant: a syslog line
// of about 280 bytes with a 100-byte message, ten structured-data fields,
// both endpoints in the site model, a conduit verdict and an open
// maintenance window.
func plantEvent(i int) Event {
	ts := time.Date(2026, 11, 26, 10, 0, 2, 123_000_000, time.UTC).Add(time.Duration(i) * time.Millisecond)
	msg := "program download to PLC-102 requested by EWS-01 over EtherNet/IP, session 0x" + strconv.Itoa(100000+i) + ", project Line3_v12"
	fields := map[string]string{}
	for _, kv := range [][2]string{{"src", "10.20.2.21"}, {"dst", "10.20.1.12"}, {"dport", "44818"}, {"app", "enip"},
		{"op", "program_download"}, {"user", "op1"}, {"project", "Line3_v12"}, {"slot", "0"}, {"result", "ok"}, {"seq", strconv.Itoa(i)}} {
		fields[kv[0]] = kv[1]
	}
	raw := `<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 4242 DL [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download" user="op1" slot="0"] ` + msg
	return Event{
		ID: NewID("plant", strconv.Itoa(i)), Time: ts, ReceivedAt: ts.Add(3 * time.Millisecond), Site: "demo-plant",
		Source: "syslog-tcp", Format: "rfc5424", Transport: "tcp", Peer: "10.20.2.21:51514", Host: "ews-01",
		App: "studio5000", ProcID: "4242", MsgID: "DL", Facility: 20, Severity: 5, Message: msg, Kind: KindFlow,
		Category: "remote_access", Action: "program_download", Outcome: "success", User: "op1",
		SrcIP: "10.20.2.21", DstIP: "10.20.1.12", SrcPort: 51514, DstPort: 44818, Proto: "tcp", AppProto: "enip",
		Operation: "program_download", Fields: fields, Raw: raw,
		Src: Endpoint{IP: "10.20.2.21", Known: true, AssetID: "demo-plant/ews-01", AssetName: "EWS-01", Role: "ews",
			Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2, Criticality: "high"},
		Dst: Endpoint{IP: "10.20.1.12", Known: true, AssetID: "demo-plant/plc-102", AssetName: "PLC-102", Role: "plc",
			Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		Flow: Flow{CrossZone: true, Allowed: true, Conduit: "sup-ctl", FlowID: "ews-plc-enip", PurdueDelta: 1},
		Maint: Maint{Active: true, WindowID: "mw-2026-11-26", AllowedOps: []string{"program_download", "write"},
			WorkOrder: "WO-4711", AllowedSources: []string{"demo-plant/ews-01"}, AllowedUsers: []string{"op1"}},
		ModelVersion: 12,
	}
}

// BenchmarkEventRecordForms compares the map form and the compact form of
// a 1,000-event batch of plant events (plantEvent): bytes per event,
// encoding (AppendEvents into a reused buffer) and decoding with
// UnmarshalEventsShared (into a reused slice) and UnmarshalEvents.
func BenchmarkEventRecordForms(b *testing.B) {
	evs := make([]Event, 1000)
	for i := range evs {
		evs[i] = plantEvent(i)
	}
	forms := []struct {
		name   string
		encode func(buf []byte) []byte
	}{
		{"map", func(buf []byte) []byte {
			buf = msgp.AppendArrayHeader(buf, uint32(len(evs)))
			for i := range evs {
				var err error
				if buf, err = evs[i].MarshalMsg(buf); err != nil {
					b.Fatal(err)
				}
			}
			return buf
		}},
		{"compact", func(buf []byte) []byte {
			out, err := AppendEvents(buf, evs)
			if err != nil {
				b.Fatal(err)
			}
			return out
		}},
	}
	for _, f := range forms {
		data := f.encode(nil)
		perEvent := float64(len(data)) / float64(len(evs))
		report := func(b *testing.B) {
			b.ReportMetric(perEvent, "B/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		}
		b.Run("form="+f.name+"/op=encode", func(b *testing.B) {
			buf := make([]byte, 0, len(data)*2)
			b.ReportAllocs()
			for b.Loop() {
				buf = f.encode(buf[:0])
			}
			report(b)
		})
		b.Run("form="+f.name+"/op=decode-shared", func(b *testing.B) {
			var dst []Event
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = UnmarshalEventsShared(data, dst); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run("form="+f.name+"/op=decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UnmarshalEvents(data); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}

// TestAppendStr checks that appendStr writes exactly what
// msgp.AppendString writes, at every header size boundary, onto a
// buffer with and without room.
func TestAppendStr(t *testing.T) {
	for _, n := range []int{0, 1, 30, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		for _, prefix := range [][]byte{nil, []byte("ab"), make([]byte, 3, 3+len(s)+8)} {
			want := msgp.AppendString(append([]byte(nil), prefix...), s)
			got := appendStr(append([]byte(nil), prefix...), s)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendStr of %d bytes after %d: % x, want % x", len(s), len(prefix), got[:min(len(got), 16)], want[:min(len(want), 16)])
			}
			roomy := appendStr(prefix[:len(prefix):cap(prefix)], s)
			if !bytes.Equal(roomy, want) {
				t.Fatalf("appendStr into spare capacity differs for %d bytes", len(s))
			}
		}
	}
}
