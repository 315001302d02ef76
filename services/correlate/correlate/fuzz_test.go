package correlate

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"reflect"
	"testing"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// FuzzReadEvents feeds arbitrary JSON lines to the fixture event reader
// and the events it accepts through the whole rule pack: neither may crash.
func FuzzReadEvents(f *testing.F) {
	for _, id := range []string{"OT-009", "OT-013", "OT-015"} {
		data, err := os.ReadFile(packDir + "/testdata/" + id + "/events.jsonl")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"id":"x","site":"s","time":"2026-11-26T10:00:00Z","kind":"flow","dst":{"role":"plc","purdue":1}}`))
	f.Add([]byte("{}\n{\"id\":1}\n"))
	set, err := rule.LoadDir(packDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ReadEvents("fuzz.jsonl", bytes.NewReader(data))
		if err != nil {
			return
		}
		e := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		for i := range evs {
			if _, _, err := e.ProcessAt(context.Background(), uint64(i+1), evs[i:i+1]); err != nil {
				t.Fatalf("process: %v", err)
			}
		}
	})
}

// FuzzDecode feeds two arbitrary bus messages in turn to the apply stage's
// decoder, which reuses one buffer: what it accepts must decode exactly
// like a fresh event.UnmarshalEvents once the Fields it leaves raw are
// decoded (same events, nothing left over from the previous message), and
// nothing may crash or allocate what a damaged header announces.
func FuzzDecode(f *testing.F) {
	full := benchBatch()[:3]
	full[0].Raw = "<13>raw line"
	full[0].Techniques = []string{"T0831", "T0855"}
	full[0].Fields = map[string]string{"unit": "3"}
	sparse := []event.Event{{ID: "x", Site: "s"}}
	for _, pair := range [][2][]event.Event{{full, sparse}, {sparse, full}, {full, full[:1]}} {
		a, err := event.Marshal(pair[0])
		if err != nil {
			f.Fatal(err)
		}
		b, err := event.Marshal(pair[1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a, b)
		f.Add(a, b[:len(b)/2])
	}
	// Headers announcing 2G events, and 2G strings in an event's
	// techniques: the reference decoder would allocate them.
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, []byte{0x90})
	f.Add([]byte{0x91, 0x81, 0xaa, 't', 'e', 'c', 'h', 'n', 'i', 'q', 'u', 'e', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff}, []byte{0x90})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		s := &Service{}
		for _, data := range [][]byte{first, second} {
			got, err := s.decode(data)
			if err != nil {
				// Rejected before decoding (e.g. a header announcing more
				// elements than the message holds): the reference decoder
				// would try to allocate them.
				continue
			}
			want, werr := event.UnmarshalEvents(data)
			if (err == nil) != (werr == nil) {
				t.Fatalf("decode error %v, event.UnmarshalEvents error %v", err, werr)
			}
			if err == nil && !reflect.DeepEqual(withFields(got), want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("decode with a reused buffer:\n%+v\nwant\n%+v", got, want)
			}
		}
	})
}
