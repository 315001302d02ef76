package correlate

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// sampleEntry is an incident with every kind of field set, as the engine
// stores it after closing an earlier incident of the key.
func sampleEntry(t testing.TB) Entry {
	t.Helper()
	set, err := rule.LoadDir(packDir)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(set, NewMemoryStore(), EngineOptions{})
	_, incs, err := e.Process(context.Background(), []event.Event{
		flow("s1", 0, plc101, sis01, "write", false),
		flow("s2", time.Second, hist, plc101, "write", false),
	})
	if err != nil || len(incs) == 0 {
		t.Fatalf("no incident to store: %v", err)
	}
	return Entry{Incident: incs[0], Prev: "prev-incident", ClosedLastSeen: t0.Add(-time.Hour), Seq: 42,
		Applied: []Applied{{Seq: 40, Runs: []Run{{Incident: "prev-incident", Alerts: 3}, {Alerts: 1}}}, {Seq: 42, Runs: []Run{{Alerts: 2}}}}}
}

// TestEntryCodec checks that an incident store value round-trips through
// the MessagePack encoding, that JSON values of earlier versions are still
// read, and that damaged values are errors.
func TestEntryCodec(t *testing.T) {
	full := sampleEntry(t)
	legacy, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encodeEntry(&full)
	if err != nil {
		t.Fatal(err)
	}
	bare := Entry{Incident: event.Incident{ID: "i", Site: "s", Key: "k", Version: 1}}
	bareEnc, err := encodeEntry(&bare)
	if err != nil {
		t.Fatal(err)
	}
	// Values written before Seq and the journal existed end after
	// ClosedLastSeen: bare's encoding without its last two bytes (Seq 0,
	// an empty journal).
	if n := len(bareEnc); bareEnc[n-2] != 0x00 || bareEnc[n-1] != 0x90 {
		t.Fatalf("bare entry ends in % x, want 00 90", bareEnc[n-2:])
	}
	noJournal := bareEnc[:len(bareEnc)-2]
	unjournaled := full
	unjournaled.Applied = nil
	fullNoJournal, err := encodeEntry(&unjournaled)
	if err != nil {
		t.Fatal(err)
	}
	journalAt := len(fullNoJournal) - 1 // the empty journal's header
	tests := []struct {
		name    string
		data    []byte
		want    Entry
		wantErr bool
	}{
		{name: "messagepack", data: enc, want: full},
		{name: "messagepack without previous incident", data: bareEnc, want: bare},
		{name: "messagepack written before journals", data: noJournal, want: bare},
		// 2G journal records announced in 5 bytes: an error, not an allocation.
		{name: "huge journal header", data: append(append([]byte{}, fullNoJournal[:journalAt]...), 0xdd, 0x7f, 0xff, 0xff, 0xff), wantErr: true},
		{name: "journal record of three elements", data: append(append([]byte{}, fullNoJournal[:journalAt]...), 0x91, 0x93, 0x01, 0x90, 0x01), wantErr: true},
		{name: "json of earlier versions", data: legacy, want: full},
		{name: "truncated", data: enc[:len(enc)-3], wantErr: true},
		{name: "trailing bytes", data: append(append([]byte{}, enc...), 0x01), wantErr: true},
		{name: "marker only", data: []byte{entryMsgpack}, wantErr: true},
		// 2G alert ids announced in 18 bytes: an error, not an allocation.
		{name: "huge array header", data: append([]byte{entryMsgpack, 0x81, 0xa9}, append([]byte("alert_ids"), 0xdd, 0x7f, 0xff, 0xff, 0xff)...), wantErr: true},
		{name: "empty", data: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEntry(tt.data)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameEntry(got, tt.want) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// sameEntry compares entries with times by instant (encodings keep the
// instant, not the location).
func sameEntry(a, b Entry) bool {
	if !a.ClosedLastSeen.Equal(b.ClosedLastSeen) {
		return false
	}
	a.ClosedLastSeen, b.ClosedLastSeen = time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzDecodeEntry feeds arbitrary values to the incident store decoder:
// it must not crash, and what it accepts must encode and decode again to
// the same entry.
func FuzzDecodeEntry(f *testing.F) {
	full := sampleEntry(f)
	enc, err := encodeEntry(&full)
	if err != nil {
		f.Fatal(err)
	}
	legacy, err := json.Marshal(full)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add(legacy)
	f.Add([]byte{entryMsgpack, 0x80, 0xa0, 0x00})
	f.Add(append([]byte{entryMsgpack, 0x81, 0xa9}, append([]byte("alert_ids"), 0xdd, 0x7f, 0xff, 0xff, 0xff)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			return
		}
		again, err := encodeEntry(&e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("decode the re-encoded entry: %v", err)
		}
		if !sameEntry(back, e) {
			t.Fatalf("round trip changed the entry:\n%+v\n%+v", back, e)
		}
	})
}

// BenchmarkEntryCodec compares encoding the largest incident store value
// (KeptAlertIDs alert ids, a journal of DefaultReplayDepth positions) in
// MessagePack and JSON.
func BenchmarkEntryCodec(b *testing.B) {
	e := sampleEntry(b)
	for i := len(e.Incident.AlertIDs); i < KeptAlertIDs; i++ {
		e.Incident.AlertIDs = append(e.Incident.AlertIDs, event.NewID("alert", "OT-001", "e"+time.Duration(i).String()))
	}
	e.Applied = nil
	for i := range DefaultReplayDepth {
		e.Applied = append(e.Applied, Applied{Seq: uint64(1000 + i), Runs: []Run{{Alerts: 20}}})
	}
	b.Run("msgpack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeEntry(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
