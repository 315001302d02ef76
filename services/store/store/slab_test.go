package store

import (
	"maps"
	"reflect"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// TestEventSlabReuse: a message decoded into a slab that held another
// message's events (the writer's recycled slabs) gives the same records,
// rows and fields as the message decoded into fresh memory, whatever the
// earlier message held: more or fewer events, more fields, invalid
// events, map-form records.
func TestEventSlabReuse(t *testing.T) {
	compact := func(evs []event.Event) []byte {
		data, err := event.MarshalEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// mapForm encodes evs as records keyed by field name, as producers
	// before the compact records wrote them.
	mapForm := func(evs []event.Event) []byte {
		data := msgp.AppendArrayHeader(nil, uint32(len(evs)))
		for i := range evs {
			var err error
			if data, err = evs[i].MarshalMsg(data); err != nil {
				t.Fatal(err)
			}
		}
		return data
	}
	many := demoEvents(1, 40)
	for i := range many {
		many[i].Fields["extra"] = "x"
		many[i].Techniques = []string{"T0855", "T0836"}
	}
	few := demoEvents(2, 7)
	few[1].Fields = nil
	few[2].ID = "not-a-uuid" // invalid: a dead letter, no row
	few[3].Fields = map[string]string{}
	invalid := demoEvents(3, 5)
	invalid[0].ID = "also-not-a-uuid"

	msgs := map[string][]byte{
		"many":        compact(many),
		"few":         compact(few),
		"invalid":     compact(invalid),
		"few-mapform": mapForm(few),
	}
	order := []string{"many", "few", "invalid", "few-mapform", "many", "few-mapform", "few"}
	s := new(eventSlab)
	for i, name := range order {
		got, err := decodeEvents(msgs[name], s)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, name, err)
		}
		want, err := eventDecoder(msgs[name])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("step %d (%s): %d records, want %d", i, name, len(got), len(want))
		}
		for j := range want {
			g, w := got[j], want[j]
			if g.id != w.id || g.site != w.site || g.source != w.source || (g.err == nil) != (w.err == nil) || len(g.rows) != len(w.rows) {
				t.Fatalf("step %d (%s) record %d: %+v, want %+v", i, name, j, g, w)
			}
			ge, we := g.orig.(*event.Event), w.orig.(*event.Event)
			if !maps.Equal(fieldsOf(ge), fieldsOf(we)) {
				t.Errorf("step %d (%s) record %d: fields %v, want %v", i, name, j, fieldsOf(ge), fieldsOf(we))
			}
			if w.err != nil {
				continue
			}
			gr, err := chstore.EventRow(ge)
			if err != nil {
				t.Fatal(err)
			}
			wr, err := chstore.EventRow(we)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gr, wr) {
				t.Errorf("step %d (%s) record %d: row %v, want %v", i, name, j, gr, wr)
			}
		}
	}
}

// fieldsOf collects e's fields, raw or decoded.
func fieldsOf(e *event.Event) map[string]string {
	m := map[string]string{}
	for k, v := range e.RangeFields {
		m[k] = v
	}
	return m
}
