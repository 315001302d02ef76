package chstore

import (
	"fmt"
	"slices"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// validUUIDRef is ValidUUID as first written (a switch per byte): the
// reference of TestValidUUID.
func validUUIDRef(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// TestValidUUID checks ValidUUID on typical ids and against validUUIDRef
// on every single-byte change of a valid id.
func TestValidUUID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"0F8FAD5B-D9CB-469F-A165-70867728950E", true},
		{ZeroUUID, true},
		{"", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950e0", false},
		{"0f8fad5bd-9cb-469f-a165-70867728950e", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950g", false},
		{"g0f8fad5b-d9cb-469f-a165-70867728950", false},
		{"0f8fad5b_d9cb_469f_a165_70867728950e", false},
		{"{f8fad5b-d9cb-469f-a165-70867728950e", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950\xff", false},
	}
	for _, tc := range tests {
		if got := ValidUUID(tc.s); got != tc.want || got != validUUIDRef(tc.s) {
			t.Errorf("ValidUUID(%q) = %v; want %v", tc.s, got, tc.want)
		}
	}
	base := []byte("0f8fad5b-d9cb-469f-a165-70867728950e")
	for i := range base {
		for c := 0; c < 256; c++ {
			s := slices.Clone(base)
			s[i] = byte(c)
			if got, want := ValidUUID(string(s)), validUUIDRef(string(s)); got != want {
				t.Fatalf("ValidUUID(%q) = %v; reference %v", s, got, want)
			}
		}
	}
}

// BenchmarkValidUUID measures checking one canonical id, with ValidUUID
// and with the switch per byte it replaced (validUUIDRef).
func BenchmarkValidUUID(b *testing.B) {
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = event.NewID("bench-uuid", fmt.Sprint(i))
	}
	for _, tc := range []struct {
		name  string
		valid func(string) bool
	}{
		{"table", ValidUUID},
		{"switch", validUUIDRef},
	} {
		b.Run(tc.name, func(b *testing.B) {
			i, ok := 0, true
			for b.Loop() {
				ok = tc.valid(ids[i%len(ids)]) && ok
				i++
			}
			if !ok {
				b.Fatal("an id of event.NewID is not valid")
			}
		})
	}
}

// TestGramsWithin checks GramsWithin's answer on typical raw lines and
// messages, and that whenever it answers true the keys of the part are
// indeed among those of the text.
func TestGramsWithin(t *testing.T) {
	raw := "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 op=write"
	tests := []struct {
		name, text, part string
		want             bool
	}{
		{"suffix after a separator", raw, "action=allow src=10.20.2.11 op=write", true},
		{"whole text", raw, raw, true},
		{"empty part", raw, "", true},
		{"empty both", "", "", true},
		{"inside, bounded", raw, "fw-cell-01 fw", true},
		{"prefix", raw, "<134>Nov 26", true},
		{"starts inside a token", raw, "ction=allow src=10.20.2.11 op=write", false},
		{"ends inside a token", raw, "action=allow src=10.20.2.11 op=wri", false},
		{"starts with a separator inside a token run", raw, "=allow src", true},
		{"ends with a separator", raw, "fw-cell-", true},
		{"not in the text", raw, "operator session", false},
		{"other case", raw, "ACTION=allow", false},
		{"longer than the text", "op=write", "op=write now", false},
		{"suffix bounded", "xab ab", "ab", true},
		{"later occurrence bounded, first not", "xab ab.", "ab", false},
		{"suffix inside a token", "prefixab", "ab", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := GramsWithin(tc.text, tc.part)
			if got != tc.want {
				t.Errorf("GramsWithin(%q, %q) = %v; want %v", tc.text, tc.part, got, tc.want)
			}
			if !got {
				return
			}
			have := map[uint32]bool{}
			for _, k := range AppendGrams(nil, tc.text) {
				have[k] = true
			}
			for _, k := range AppendGrams(nil, tc.part) {
				if !have[k] {
					t.Errorf("key %08x of %q is not a key of %q", k, tc.part, tc.text)
				}
			}
		})
	}
}

// FuzzGramsWithin checks that the keys of a part GramsWithin accepts are
// among those of the text.
func FuzzGramsWithin(f *testing.F) {
	f.Add("<134>Nov 26 fw: action=allow op=write", 13, 40)
	f.Add("abcdef ghij", 2, 9)
	f.Fuzz(func(t *testing.T, text string, from, to int) {
		if from < 0 || to > len(text) || from > to {
			return
		}
		part := text[from:to]
		if !GramsWithin(text, part) {
			// A suffix of text where no token runs into it is always
			// recognised.
			if to == len(text) && (from == 0 || part == "" || gramByte[text[from-1]] == 0 || gramByte[part[0]] == 0) {
				t.Errorf("GramsWithin(%q, %q) = false for a bounded suffix", text, part)
			}
			return
		}
		have := map[uint32]bool{}
		for _, k := range AppendGrams(nil, text) {
			have[k] = true
		}
		for _, k := range AppendGrams(nil, part) {
			if !have[k] {
				t.Fatalf("key %08x of %q is not a key of %q", k, part, text)
			}
		}
	})
}

// TestFieldsJSONSharesSortedNames checks eventBlock.fieldsJSON against
// refFieldsJSON
// for events whose field names repeat, differ with the same count, or are
// absent, over several blocks of one eventBlock (the names kept from a
// block must not leak into the next).
func TestFieldsJSONSharesSortedNames(t *testing.T) {
	fields := []map[string]string{
		{"src": "10.0.0.1", "dst": "10.0.0.2", "op": "write"},
		{"op": "read", "src": "10.0.0.3", "dst": "10.0.0.4"},
		{"user": "eng", "session": "s-1", "project": "line-1"},
		nil,
		{},
		{"src": "10.0.0.5", "dst": "10.0.0.6", "op": "read"},
		{"user": "eng2", "session": "s-2", "op": "login"},
		{"a": "1"},
		{"b": "2"},
		{"b": "3"},
	}
	tests := []struct {
		name   string
		blocks [][]int // indexes into fields, per block
	}{
		{"one block", [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{"same names across blocks", [][]int{{0, 1}, {5, 0}, {1}}},
		{"other names, same count, next block", [][]int{{0, 5}, {2, 6, 2}, {7, 8, 9, 7}}},
		{"larger first block", [][]int{{2, 2, 2, 2, 2, 2, 2, 2}, {0, 7}, {6}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var blk eventBlock
			for bi, idx := range tc.blocks {
				evs := make([]*event.Event, len(idx))
				for i, f := range idx {
					evs[i] = &event.Event{Fields: fields[f]}
				}
				blk.fieldsJSON(evs)
				if len(blk.fj) != len(evs) {
					t.Fatalf("block %d: %d values for %d events", bi, len(blk.fj), len(evs))
				}
				for i, e := range evs {
					if want := refFieldsJSON(e.Fields); blk.fj[i] != want {
						t.Errorf("block %d event %d: %s; want %s", bi, i, blk.fj[i], want)
					}
				}
			}
		})
	}
}

// TestEventRefs checks that EventRefs gives EventRef's rows and errors.
func TestEventRefs(t *testing.T) {
	evs := slices.Clone(loadRecords(t).Events)
	evs = append(evs, evs[0], evs[0])
	evs[len(evs)-2].ID = "not-a-uuid"
	evs[len(evs)-1].DstPort = 70000
	rows, errs := EventRefs(evs)
	for i := range evs {
		want, wantErr := EventRef(&evs[i])
		var err error
		if errs != nil {
			err = errs[i]
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("event %d: error %v; EventRef's %v", i, err, wantErr)
		}
		if !slices.Equal(rows[i], want) {
			t.Errorf("event %d: row %v; EventRef's %v", i, rows[i], want)
		}
	}
	if _, errs := EventRefs(evs[:1]); errs != nil {
		t.Errorf("errors %v for a valid event", errs)
	}
}
