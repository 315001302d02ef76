package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/c981/c981/services/shared/event/internal/sharedgen/transform"
)

// sharedBatches returns encoded batches covering every field kind of Event:
// the schema example, events with and without the optional parts, empty
// strings and maps, non-ASCII text, many fields. The batches of
// sharedEvents are encoded by MarshalEvents (compact records); "map" and
// "mixed-forms" hold map-form records (all, and every other one).
func sharedBatches(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, evs := range sharedEvents(t) {
		data, err := MarshalEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	mixed := sharedEvents(t)["mixed"]
	out["map"] = marshalEventsForms(t, mixed, func(int) bool { return false })
	out["mixed-forms"] = marshalEventsForms(t, mixed, func(i int) bool { return i%2 == 0 })
	return out
}

// sharedEvents returns the events of sharedBatches by batch name.
func sharedEvents(t testing.TB) map[string][]Event {
	t.Helper()
	var example Event
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "schemas", "examples", "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &example); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 26, 10, 0, 2, 123_000_000, time.UTC)
	full := Event{
		ID: NewID("full"), Time: ts, ReceivedAt: ts, Site: "demo-plant", Source: "syslog-tcp", Format: "cef",
		Transport: "tls", Peer: "10.0.0.1:514", PeerIdentity: "CN=fw", TimeRaw: "Nov 26 10:00:02", Host: "fw-01",
		App: "fw", ProcID: "42", MsgID: "ID7", Facility: 16, Severity: 2, Message: "ünïcødé — message",
		Vendor: "V", Product: "P", SignatureID: "100", Signature: "sig", EventCode: "4720",
		Techniques: []string{"T0843", "T0836"}, Kind: KindAlert, Category: "malware", Action: "deny",
		Outcome: "failure", User: "op1", SrcIP: "10.20.2.11", DstIP: "10.20.1.11", SrcMAC: "00:11:22:33:44:55",
		DstMAC: "66:77:88:99:aa:bb", SrcPort: 40000, DstPort: 502, Proto: "tcp", AppProto: "modbus",
		BytesOut: 1 << 40, BytesIn: -1, Session: "s1", Operation: "program_download",
		Fields: map[string]string{"a": "1", "": "empty key", "empty": ""}, Raw: "<10>raw",
		Src:          Endpoint{IP: "10.20.2.11", Known: true, AssetID: "a/ews", AssetName: "EWS", Role: "ews", Zone: "a/z", ZoneKind: "control", Purdue: 2.5, SLT: 3, Criticality: "high", Safety: true},
		Dst:          Endpoint{IP: "10.20.1.11", Purdue: -1},
		Flow:         Flow{CrossZone: true, Conduit: "c", FlowID: "f", Violation: "no conduit", NewPair: true, PurdueDelta: 1.5, SafetyInvolved: true},
		Maint:        Maint{Active: true, WindowID: "w", AllowedOps: []string{"write"}, WorkOrder: "WO-1", AllowedSources: []string{"a/ews"}, AllowedUsers: []string{"op1", ""}},
		ModelVersion: 7,
	}
	many := full
	many.Fields = map[string]string{}
	for i := range 300 {
		many.Fields["k"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
	}
	bare := Event{ID: NewID("bare"), Time: ts, ReceivedAt: ts, Facility: -1, Severity: -1}
	emptyMap := bare
	emptyMap.Fields = map[string]string{}
	batches := map[string][]Event{
		"empty":    {},
		"example":  {example},
		"full":     {full},
		"mixed":    {full, bare, example, emptyMap, many, bare},
		"bare":     {bare},
		"emptymap": {emptyMap},
	}
	return batches
}

// TestUnmarshalEventsShared checks that the shared-string decoder gives
// what the generated one gives, also when it decodes into a slice that
// holds earlier events.
func TestUnmarshalEventsShared(t *testing.T) {
	stale, err := UnmarshalEvents(sharedBatches(t)["mixed"])
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range sharedBatches(t) {
		t.Run(name, func(t *testing.T) {
			want, err := UnmarshalEvents(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, dst := range [][]Event{nil, append([]Event(nil), stale...)} {
				got, err := UnmarshalEventsShared(data, dst)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
					t.Fatalf("shared decode differs:\n got %+v\nwant %+v", got, want)
				}
			}
		})
	}
}

// TestUnmarshalEventsSharedCorrupt checks the rejections that protect
// memory: counts beyond the bytes left fail without allocating them, in
// both decoders (the generated one through Unmarshal's batch guard).
func TestUnmarshalEventsSharedCorrupt(t *testing.T) {
	full := sharedBatches(t)["full"]
	tests := []struct {
		name string
		data []byte
	}{
		{"batch of 2^28 events in 5 bytes", []byte{0xdd, 0x0f, 0xff, 0xff, 0xff}},
		{"batch of 2^32-1 events", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x80}},
		{"event map of 2^32-1 fields", []byte{0x91, 0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"fields map of 2^32-1 entries", []byte{0x91, 0x81, 0xa6, 'f', 'i', 'e', 'l', 'd', 's', 0xdf, 0xff, 0xff, 0xff, 0xff}},
		{"techniques of 2^32-1 strings", []byte{0x91, 0x81, 0xaa, 't', 'e', 'c', 'h', 'n', 'i', 'q', 'u', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}},
		{"truncated", full[:len(full)-3]},
		{"trailing bytes", append(append([]byte(nil), full...), 0x00)},
		{"not msgpack", []byte("not msgpack")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalEventsShared(tt.data, nil); err == nil {
				t.Error("shared decoder: no error")
			}
			if _, err := UnmarshalEvents(tt.data); err == nil {
				t.Error("generated decoder: no error")
			}
		})
	}
}

// TestUnmarshalBatchCorruptHeader checks every batch type against a
// header that announces more records than bytes follow: an error, not an
// allocation of 2^28 records (which ended the process).
func TestUnmarshalBatchCorruptHeader(t *testing.T) {
	data := []byte{0xdd, 0x0f, 0xff, 0xff, 0xff, 0x80}
	for name, v := range map[string]any{
		"events": &[]Event{}, "alerts": &[]Alert{}, "incidents": &[]Incident{}, "plans": &[]Plan{},
		"dead letters": &[]DeadLetter{}, "EventBatch": &EventBatch{}, "AlertBatch": &AlertBatch{},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Unmarshal(data, v); err == nil || !errors.Is(err, msgp.ErrShortBytes) {
				t.Fatalf("err = %v, want a short-bytes error", err)
			}
		})
	}
	// Callers of the generated batch decoder itself (correlate decodes
	// into a recycled EventBatch) are protected by the msgp limit.
	var b EventBatch
	if _, err := b.UnmarshalMsg(data); !errors.Is(err, msgp.ErrLimitExceeded) {
		t.Fatalf("EventBatch.UnmarshalMsg: err = %v, want msgp.ErrLimitExceeded", err)
	}
}

// TestSharedGenUpToDate checks that event_shared_gen.go is what sharedgen
// derives from the current event_gen.go (run `go generate ./event`).
func TestSharedGenUpToDate(t *testing.T) {
	src, err := os.ReadFile("event_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := transform.Shared(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("event_shared_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("event_shared_gen.go is stale: run `cd services/shared && go generate ./event`")
	}
}

// FuzzUnmarshalEventsShared checks on arbitrary input, map-form and compact
// records, that the shared decoder accepts exactly what the generated one
// accepts and decodes it to equal events (and EventBatch.UnmarshalMsg
// too). Inputs whose counts exceed the bytes left are rejected by
// the shared decoder before allocating; the generated per-record code
// (below Unmarshal's batch guard) is bounded by the msgp limits.
func FuzzUnmarshalEventsShared(f *testing.F) {
	for _, data := range sharedBatches(f) {
		f.Add(data)
	}
	f.Add([]byte{0xdd, 0x0f, 0xff, 0xff, 0xff})
	// Compact records: short, long, with a huge list count, a bad time.
	f.Add([]byte{0x92, 0x90, 0x93, 0xa1, 'x', 0x01, 0xc0})
	f.Add([]byte{0x91, 0xdc, 0x00, 0x17, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x91, 0x92, 0xa0, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, serr := UnmarshalEventsShared(data, nil)
		want, gerr := UnmarshalEvents(data)
		if (serr == nil) != (gerr == nil) {
			if serr != nil && errors.Is(serr, msgp.ErrShortBytes) && errors.Is(gerr, msgp.ErrLimitExceeded) {
				return // both rejected, for different counts
			}
			t.Fatalf("shared err %v, generated err %v", serr, gerr)
		}
		if serr != nil {
			return
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("shared decode differs:\n got %+v\nwant %+v", got, want)
		}
		var batch EventBatch
		if rest, err := batch.UnmarshalMsg(data); err != nil || len(rest) != 0 || (len(want) > 0 && !reflect.DeepEqual([]Event(batch), want)) {
			t.Fatalf("EventBatch.UnmarshalMsg differs (%d bytes left, err %v):\n got %+v\nwant %+v", len(rest), err, batch, want)
		}
	})
}

// BenchmarkUnmarshalEventsShared measures decoding alone, into a reused
// slice, of a 1,000-event batch of enriched plant events (plantEvent,
// compact records) with the two shared decoders the readers use:
// UnmarshalEventsShared (Fields as a map) and UnmarshalEventsRawFields
// (Fields left raw: store and correlate). It reports ns/event and
// events/s; callgrind instruction counts of it, divided by the events
// decoded, are the load-independent measure (docs/BENCHMARKS.md).
func BenchmarkUnmarshalEventsShared(b *testing.B) {
	const events = 1000
	data := plantBatch(b, events)
	decoders := []struct {
		name   string
		decode func([]byte, []Event) ([]Event, error)
	}{
		{"shared", UnmarshalEventsShared},
		{"raw-fields", UnmarshalEventsRawFields},
	}
	for _, d := range decoders {
		b.Run("decoder="+d.name, func(b *testing.B) {
			var dst []Event
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = d.decode(data, dst); err != nil {
					b.Fatal(err)
				}
			}
			if len(dst) != events {
				b.Fatalf("decoded %d events, want %d", len(dst), events)
			}
			n := float64(b.N * events)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestUnmarshalEventsSharedReuse checks that decoding into a slice that
// holds the events of an earlier batch (which the shared decoders do not
// clear first) leaves alone what those events held: a copy of an earlier
// event, with its lists and Fields map, is unchanged by the next decode,
// and the next decode gives what it gives into a new slice, for both
// shared decoders and record forms in either order.
func TestUnmarshalEventsSharedReuse(t *testing.T) {
	batches := sharedBatches(t)
	// Two batches whose lists and maps differ at the same positions.
	a := sharedEvents(t)["full"][0]
	b := a
	b.Techniques, b.Fields = []string{"T0001"}, map[string]string{"b": "2"}
	b.Maint.AllowedOps, b.Maint.AllowedSources, b.Maint.AllowedUsers = []string{"read"}, []string{"b/x"}, []string{"op2"}
	for name, evs := range map[string][]Event{"lists-a": {a, b, a}, "lists-b": {b, a, b}} {
		data, err := MarshalEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		batches[name] = data
	}
	decoders := map[string]func([]byte, []Event) ([]Event, error){
		"shared":     UnmarshalEventsShared,
		"raw-fields": UnmarshalEventsRawFields,
	}
	tests := []struct{ first, second string }{
		{"lists-a", "lists-b"},
		{"mixed", "mixed"},
		{"mixed", "mixed-forms"},
		{"mixed-forms", "mixed"},
		{"mixed", "map"},
		{"map", "mixed"},
		{"mixed", "example"},
	}
	for name, decode := range decoders {
		for _, tt := range tests {
			t.Run(name+"/"+tt.first+"-then-"+tt.second, func(t *testing.T) {
				dst, err := decode(batches[tt.first], nil)
				if err != nil {
					t.Fatal(err)
				}
				kept := append([]Event(nil), dst...) // shares the events' lists and maps
				want, err := decode(batches[tt.first], nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decode(batches[tt.second], dst)
				if err != nil {
					t.Fatal(err)
				}
				if &got[0] != &dst[0] {
					t.Fatal("the slice was not reused")
				}
				if !reflect.DeepEqual(kept, want) {
					t.Fatalf("decoding into the slice changed its earlier events:\n got %+v\nwant %+v", kept, want)
				}
				fresh, err := decode(batches[tt.second], nil)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, fresh) {
					t.Fatalf("decode into a used slice differs:\n got %+v\nwant %+v", got, fresh)
				}
			})
		}
	}
}

// TestSharedTextStrings checks the lists strings carves for a batch:
// each has the length asked for, no spare capacity, empty strings, and
// storage of its own (writing one changes no other), across blocks and
// for lists longer than slabLong.
func TestSharedTextStrings(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"one", []int{1}},
		{"fill the first block", []int{slabFirst / 2, slabFirst / 2}},
		{"across blocks", []int{3, slabFirst - 1, 5, slabFirst, 2 * slabFirst, 1}},
		{"long lists", []int{2, slabLong + 1, 2, slabLong, slabMax}},
		{"many small", slices.Repeat([]int{1, 2, 3}, 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d sharedText
			lists := make([][]string, len(tt.sizes))
			for i, n := range tt.sizes {
				l := d.strings(n)
				if len(l) != n || cap(l) != n {
					t.Fatalf("list %d: len %d cap %d, want %d", i, len(l), cap(l), n)
				}
				for j, s := range l {
					if s != "" {
						t.Fatalf("list %d: element %d is %q, want empty", i, j, s)
					}
				}
				for j := range l {
					l[j] = strconv.Itoa(i)
				}
				lists[i] = l
			}
			for i, l := range lists {
				for j, s := range l {
					if s != strconv.Itoa(i) {
						t.Fatalf("list %d element %d is %q: lists share storage", i, j, s)
					}
				}
			}
		})
	}
}
