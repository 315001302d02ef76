package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// gramKey names one event_grams key of a site and hour in test output.
func gramKey(site string, hour time.Time, k uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s ", site, hour.UTC().Format("01-02T15"))
	if k&chstore.GramHead != 0 {
		b.WriteByte('^')
	}
	for s := 24; s >= 0; s -= 8 {
		if c := byte(k >> s & 0x7f); c != 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// wantGrams is every key of evs (per site and hour) with the number of
// events that hold it.
func wantGrams(evs []event.Event) map[string]uint64 {
	out := map[string]uint64{}
	for _, e := range evs {
		h := e.Time.UTC().Truncate(time.Hour)
		keys := chstore.AppendGrams(chstore.AppendGrams(nil, e.Raw), e.Message)
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			out[gramKey(e.Site, h, k)]++
		}
	}
	return out
}

// addRows adds event_grams rows (GramRow values) to sums.
func addRows(sums map[string]uint64, rows [][]any) {
	for _, r := range rows {
		sums[gramKey(r[1].(string), r[2].(time.Time), r[0].(uint32))] += r[3].(uint64)
	}
}

func textEvent(site string, at time.Time, raw string) event.Event {
	return event.Event{ID: event.NewID("text-index-test", site, at.String(), raw), Site: site, Time: at, Raw: raw, Message: raw[strings.IndexByte(raw, ' ')+1:]}
}

// TestTextIndexBatches feeds batches to the index builder and checks the
// rows it asks for before each acknowledgement: the keys not yet written
// for the (site, hour), again when the previous insert was not committed,
// every key of an hour older than the kept ones, and that the new rows
// plus the count deltas add up to the events holding each key.
func TestTextIndexBatches(t *testing.T) {
	h := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name     string
		evs      []event.Event
		commit   bool
		wantRows []string // the keys of the rows asked for, sorted
	}{
		{"first batch writes every key", []event.Event{
			textEvent("s1", h.Add(time.Minute), "fw: SEQ=4242"),
		}, true, []string{"s1 11-26T10 ^4242", "s1 11-26T10 ^fw", "s1 11-26T10 ^seq", "s1 11-26T10 4242"}},
		{"known keys add no row", []event.Event{
			textEvent("s1", h.Add(2*time.Minute), "fw: seq=4242 seq=4242"),
		}, true, nil},
		{"a new key and another site", []event.Event{
			textEvent("s1", h.Add(3*time.Minute), "fw: seq=42"),
			textEvent("s2", h.Add(3*time.Minute), "fw: seq=42"),
		}, false, []string{"s1 11-26T10 ^42", "s2 11-26T10 ^42", "s2 11-26T10 ^fw", "s2 11-26T10 ^seq"}},
		{"not committed: asked again", []event.Event{
			textEvent("s2", h.Add(4*time.Minute), "fw: seq=42"),
			textEvent("s1", h.Add(4*time.Minute), "fw: seq=42"),
		}, true, []string{"s1 11-26T10 ^42", "s2 11-26T10 ^42", "s2 11-26T10 ^fw", "s2 11-26T10 ^seq"}},
		{"three newer hours forget the first", []event.Event{
			textEvent("s1", h.Add(1*time.Hour), "fw: a"),
			textEvent("s1", h.Add(2*time.Hour), "fw: a"),
			textEvent("s1", h.Add(3*time.Hour), "fw: a"),
		}, true, []string{"s1 11-26T11 ^a", "s1 11-26T11 ^fw", "s1 11-26T12 ^a", "s1 11-26T12 ^fw", "s1 11-26T13 ^a", "s1 11-26T13 ^fw"}},
		{"a forgotten hour is written again", []event.Event{
			textEvent("s1", h.Add(5*time.Minute), "fw: seq=4242"),
		}, true, []string{"s1 11-26T10 ^4242", "s1 11-26T10 ^fw", "s1 11-26T10 ^seq", "s1 11-26T10 4242"}},
		{"and again: it is older than every kept hour", []event.Event{
			textEvent("s1", h.Add(6*time.Minute), "fw: seq"),
		}, true, []string{"s1 11-26T10 ^fw", "s1 11-26T10 ^seq"}},
		{"a kept hour still remembers", []event.Event{
			textEvent("s1", h.Add(2*time.Hour+time.Minute), "fw: a b"),
		}, true, []string{"s1 11-26T12 ^b"}},
	}
	x, c := newTextIndex(h, time.Hour), newGramCounter()
	sums := map[string]uint64{}
	var all []event.Event
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if !st.commit {
				// Take the deltas so far: those of this batch are
				// dropped below (a failed insert's over-count).
				addRows(sums, x.deltas())
				x.clearDeltas(h)
			}
			ptrs := make([]*event.Event, len(st.evs))
			for i := range st.evs {
				ptrs[i] = &st.evs[i]
			}
			rows := x.rows(c.count(ptrs))
			var got []string
			for _, r := range rows {
				got = append(got, gramKey(r[1].(string), r[2].(time.Time), r[0].(uint32)))
				if r[3].(uint64) == 0 {
					t.Errorf("%s: n = 0 (SummingMergeTree would delete the row)", got[len(got)-1])
				}
			}
			slices.Sort(got)
			slices.Sort(st.wantRows)
			if !slices.Equal(got, st.wantRows) {
				t.Errorf("rows %q\nwant %q", got, st.wantRows)
			}
			if st.commit {
				x.commit()
				// Only the committed batches' events are expected;
				// an uncommitted batch's deltas are an over-count.
				addRows(sums, rows)
				all = append(all, st.evs...)
			} else {
				x.clearDeltas(h)
			}
		})
	}
	if n := x.hours(); n != 4 {
		t.Errorf("%d hours kept; want 4 (3 of s1, 1 of s2)", n)
	}
	addRows(sums, x.deltas())
	// The uncommitted step's events were given again by the next one.
	want := wantGrams(all)
	if !maps.Equal(sums, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if sums[k] != want[k] {
				t.Errorf("%s: rows + deltas = %d; want %d events", k, sums[k], want[k])
			}
		}
		for k := range sums {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected key", k)
			}
		}
	}
	x.clearDeltas(h)
	if d := x.deltas(); len(d) != 0 {
		t.Errorf("%d delta rows after clearDeltas", len(d))
	}
	// s2's hour 10 is 3 hours older than s1's newest, 13: forgotten.
	if n := x.hours(); n != 3 {
		t.Errorf("%d hours kept after clearDeltas; want 3 (s2 forgotten)", n)
	}
}

// TestTextIndexStored runs the stage against the real servers: the events
// of several sites and hours (out of order, some in more batches) are
// indexed in event_grams before their batch is acknowledged, and the table
// sums to exactly the keys of the stored events and the number of events
// holding each, once the count deltas are flushed (here after every batch).
func TestTextIndexStored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	h := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	checked := false
	hook := func(table string) error {
		if table == chstore.TableEvents && !checked {
			checked = true
			// The first batch is durable and not yet acknowledged: its
			// keys are already in the index.
			var n uint64
			if err := e.conn.QueryRow(ctx, "SELECT count() FROM event_grams").Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("event_grams is empty before the first events batch is acknowledged")
			}
		}
		return nil
	}
	r := e.start(t, e.config(e.addr), nil, nil, hook, func(s *Service) { s.gramDeltaEvery = 0 })
	var all []event.Event
	// One batch at a time: hour 0 is forgotten once hours 1-3 are seen.
	hours := []int{0, 1, 0, 2, 3, 4, 0, 4, 2}
	for b, hr := range hours {
		evs := demoEvents(b%3, 50) // the same lines again and again
		for i := range evs {
			evs[i].ID = event.NewID("text-index-stored", fmt.Sprint(b, i))
			evs[i].Time = h.Add(time.Duration(hr)*time.Hour + time.Duration(i)*time.Second)
			if i%2 == 1 {
				evs[i].Site = "other-plant"
			}
		}
		all = append(all, evs...)
		publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("text-%d", b), evs)
		e.waitDrained(t, 30*time.Second)
	}
	want := wantGrams(all)
	var got map[string]uint64
	eventually(t, 10*time.Second, func() (bool, string) {
		got = map[string]uint64{}
		rows, err := e.conn.Query(ctx, "SELECT gram, site, hour, sum(n) FROM event_grams GROUP BY gram, site, hour")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k    uint32
				s    string
				hour time.Time
				n    uint64
			)
			if err := rows.Scan(&k, &s, &hour, &n); err != nil {
				t.Fatal(err)
			}
			got[gramKey(s, hour, k)] = n
		}
		return maps.Equal(got, want), fmt.Sprintf("%d keys in event_grams; want %d", len(got), len(want))
	})
	if !checked {
		t.Error("the events batch hook did not run")
	}
	holders := 0.0
	for _, n := range want {
		holders += float64(n)
	}
	// Every key was new once per (site, hour); most counts went into
	// deltas.
	if n := counter(r.svc.m.gramKeys.WithLabelValues("new")); n < float64(len(want)) || n >= holders/2 {
		t.Errorf("text_index_rows_total{new} = %v; want at least the %d keys and far fewer than the %v (event, key) pairs", n, len(want), holders)
	}
	if n := counter(r.svc.m.gramKeys.WithLabelValues("count")); n == 0 {
		t.Error("text_index_rows_total{count} = 0: no count delta was inserted")
	}
}

// TestTextIndexKeepsNoMessageBytes decodes a batch as the events writer
// does (its strings share the message's bytes), indexes it, then overwrites
// the message: the sites the index remembers, and the count deltas it
// writes later, must not change.
func TestTextIndexKeepsNoMessageBytes(t *testing.T) {
	h := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs := []event.Event{
		textEvent("site-north", h.Add(time.Minute), "fw: seq=4242"),
		textEvent("site-south", h.Add(2*time.Minute), "fw: seq=42"),
	}
	msg, err := event.AppendEvents(nil, evs)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := eventDecoder(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(evs) || recs[0].site != "site-north" {
		t.Fatalf("decoded %+v", recs)
	}
	ptrs := make([]*event.Event, len(recs))
	for i := range recs {
		ptrs[i] = recs[i].orig.(*event.Event)
	}
	x, c := newTextIndex(h, time.Hour), newGramCounter()
	x.rows(c.count(ptrs))
	x.commit()
	// A second batch of a known site and hour adds count deltas only.
	x.rows(c.count(ptrs[:1]))
	x.commit()
	for i := range msg {
		msg[i] = 'X'
	}
	got := slices.Sorted(maps.Keys(x.sites))
	if want := []string{"site-north", "site-south"}; !slices.Equal(got, want) {
		t.Fatalf("sites after the message was overwritten: %q, want %q", got, want)
	}
	for site, hs := range x.sites {
		for _, gh := range hs {
			if gh.site != site {
				t.Errorf("hour state of %q names site %q", site, gh.site)
			}
		}
	}
	for _, r := range x.deltas() {
		if s := r[1].(string); s != "site-north" {
			t.Errorf("delta row for site %q, want site-north", s)
		}
	}
}
