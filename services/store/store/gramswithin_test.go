package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// countedGrams maps what gramCounter.count found to the keys of
// wantGrams (gramKey per site, hour and key) with their event counts.
func countedGrams(gb *gramBatch) map[string]uint64 {
	out := map[string]uint64{}
	for id, g := range gb.groups {
		h := time.Unix(g.hour, 0)
		for _, kc := range gb.counts[id] {
			k := gramKey(g.site, h, keyOf(kc.d))
			if _, dup := out[k]; dup {
				out[k] = 0 // a key counted twice in a group: never equal to wantGrams
				continue
			}
			out[k] = uint64(kc.n)
		}
	}
	return out
}

// distinctGrams returns the distinct keys chstore.AppendGrams gives for
// the texts, sorted.
func distinctGrams(texts ...string) []uint32 {
	var keys []uint32
	for _, t := range texts {
		keys = chstore.AppendGrams(keys, t)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestCountSkipsMessageWithinRaw checks that the counter's keys and counts,
// which skip the message of an event when chstore.GramsWithin says its keys
// are among the raw line's, are those of the reference that scans the raw
// line and the message (wantGrams), and that whenever the message is
// skipped the event's distinct key set is indeed that of its raw line:
// over the plant and load-generator events and over edge cases of where
// the message lies in the raw line.
func TestCountSkipsMessageWithinRaw(t *testing.T) {
	h := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ev := func(raw, msg string) event.Event {
		return event.Event{Site: site, Time: h.Add(time.Minute), Raw: raw, Message: msg}
	}
	var plant, load []event.Event
	for i := range 400 {
		plant = append(plant, plantEvent(i/100, i%100, h.Add(time.Duration(i)*time.Second)))
		load = append(load, loadEvent(uint64(i), h.Add(time.Duration(i)*time.Second)))
	}
	// Runs of sites and hours, interleaved, to exercise the grouping.
	var mixed []event.Event
	for i, e := range plant[:60] {
		e.Site = []string{"s1", "s1", "s2", "s1", "s2", "s2"}[i%6]
		e.Time = h.Add(time.Duration(i%5/2) * time.Hour)
		mixed = append(mixed, e)
	}
	tests := []struct {
		name string
		evs  []event.Event
		// skip: whether GramsWithin lets the counter skip each message
		// (nil: not checked).
		skip []bool
	}{
		{"plant profile", plant, nil},
		{"load generator", load, nil},
		{"sites and hours interleaved", mixed, nil},
		{"message not in raw", []event.Event{ev("fw: action=allow", "operator logon failed")}, []bool{false}},
		{"message at raw's start", []event.Event{ev("PROGRAM DOWNLOAD block=OB1 from plc", "PROGRAM DOWNLOAD")}, []bool{true}},
		{"message at raw's end", []event.Event{ev("<134>Nov 26 10:00:01 fw: action=allow op=read", "action=allow op=read")}, []bool{true}},
		{"message starts mid-token", []event.Event{ev("<134>fw: reconfigure plc42 now", "configure plc42 now")}, []bool{false}},
		{"message ends mid-token", []event.Event{ev("fw: set mode=program42 now", "set mode=pr")}, []bool{false}},
		{"message starts and ends mid-token", []event.Event{ev("xabcdefghx", "abcdefgh")}, []bool{false}},
		{"message mid-token then bounded later", []event.Event{ev("xab cd ab cd", "ab cd")}, []bool{true}},
		{"message mid-token first, bounded only later", []event.Event{ev("ab cdx ab cd y", "ab cd")}, []bool{false}},
		{"message starting and ending with separators", []event.Event{ev("key=value; next", "=value;")}, []bool{true}},
		{"empty message", []event.Event{ev("fw: action=allow", "")}, []bool{true}},
		{"empty raw and message", []event.Event{ev("", "")}, []bool{true}},
		{"message equal to raw", []event.Event{ev("fw: action=allow op=write", "fw: action=allow op=write")}, []bool{true}},
		{"message in another case", []event.Event{ev("fw: ACTION=allow", "action=allow")}, []bool{false}},
		{"non-ASCII bytes bound the message", []event.Event{ev("Störung Ventil\xffzu ÄÖÜ", "rung Ventil\xffzu")}, []bool{true}},
		{"non-ASCII message not bounded", []event.Event{ev("Störung Ventilzu", "rung Ventil")}, []bool{false}},
		{"short tokens only", []event.Event{ev("a b c d e", "c d"), ev("a1 b22 c33", "b2")}, []bool{true, false}},
		{"one event per case in one batch", []event.Event{
			ev("fw: action=allow", "operator logon failed"),
			ev("fw: action=allow", "action=allow"),
			ev("fw: action=allow", ""),
			ev("xabcdefghx", "abcdefgh"),
		}, []bool{false, true, true, false}},
	}
	c := newGramCounter()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ptrs := make([]*event.Event, len(tc.evs))
			for i := range tc.evs {
				e := &tc.evs[i]
				ptrs[i] = e
				within := chstore.GramsWithin(e.Raw, e.Message)
				if tc.skip != nil && within != tc.skip[i] {
					t.Errorf("GramsWithin(%q, %q) = %v; want %v", e.Raw, e.Message, within, tc.skip[i])
				}
				if within && !slices.Equal(distinctGrams(e.Raw), distinctGrams(e.Raw, e.Message)) {
					t.Errorf("message %q skipped, but the keys of raw %q and of raw and message differ", e.Message, e.Raw)
				}
			}
			got, want := countedGrams(c.count(ptrs)), wantGrams(tc.evs)
			if !maps.Equal(got, want) {
				for _, k := range slices.Sorted(maps.Keys(want)) {
					if got[k] != want[k] {
						t.Errorf("%s: counted %d; want %d", k, got[k], want[k])
					}
				}
				for _, k := range slices.Sorted(maps.Keys(got)) {
					if _, ok := want[k]; !ok {
						t.Errorf("%s: counted %d; want none", k, got[k])
					}
				}
			}
		})
	}
}

// TestCountRandomTexts checks the counter against the reference on random
// raw lines over a small alphabet (short tokens, runs of separators,
// upper case, non-ASCII bytes) whose messages are random parts of them or
// unrelated texts, in batches of several sites and hours.
func TestCountRandomTexts(t *testing.T) {
	const alphabet = "ab1Z -=\"\xc3\xb6"
	h := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(9, 81))
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	c := newGramCounter()
	for batch := range 200 {
		evs := make([]event.Event, 1+r.IntN(30))
		ptrs := make([]*event.Event, len(evs))
		for i := range evs {
			raw := text(r.IntN(40))
			lo := r.IntN(len(raw) + 1)
			hi := lo + r.IntN(len(raw)-lo+1)
			msg := raw[lo:hi]
			if r.IntN(4) == 0 {
				msg = text(r.IntN(10))
			}
			evs[i] = event.Event{Site: fmt.Sprintf("s%d", r.IntN(2)), Time: h.Add(time.Duration(r.IntN(3)) * time.Hour), Raw: raw, Message: msg}
			ptrs[i] = &evs[i]
		}
		if got, want := countedGrams(c.count(ptrs)), wantGrams(evs); !maps.Equal(got, want) {
			t.Fatalf("batch %d (%q...): counted %v; want %v", batch, evs[0].Raw, got, want)
		}
	}
}
