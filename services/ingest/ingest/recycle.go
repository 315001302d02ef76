package ingest

import (
	"sync"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/event"
)

// maxRecycledFields bounds the size of a recycled Fields map: a map that
// held more keys is left to the garbage collector, so that one unusual
// record does not keep a large map (and the cost of clearing it) alive.
const maxRecycledFields = 64

// maxRecycledTechniques bounds the capacity of a recycled Techniques
// array, for the same reason.
const maxRecycledTechniques = 16

// recycled is the reusable storage of one published event: its emptied
// Fields map (never nil) and its emptied Techniques array (nil when it
// had none).
type recycled struct {
	fields     map[string]string
	techniques []string
}

// recycledStorage holds the storage of published events (*recycled).
// The parse side takes one for every record (parseRecycled) and the
// publish workers give it back once their batch is published
// (recycleFields), so that in steady state parsing allocates no map and
// no technique array: building Event.Fields in a fresh map cost more than
// the rest of the parsing. emptyHolders holds the *recycled whose storage
// was taken, for recycleFields to fill again (so that giving storage back
// allocates no holder either). A sync.Pool is per-P and is emptied by the
// garbage collector, so an idle ingest keeps no maps.
var recycledStorage, emptyHolders sync.Pool

// parseRecycled parses raw with p into an event whose Fields map and
// Techniques array, if it has them, are recycled storage (see
// recycledStorage). The event is exactly the one p.Parse returns:
// ParseInto keeps only the emptied storage.
func parseRecycled(p *syslog.Parser, raw []byte, id, peer string, now time.Time) (event.Event, error) {
	var ev event.Event
	var m map[string]string
	var techs []string
	if r, _ := recycledStorage.Get().(*recycled); r != nil {
		m, techs = r.fields, r.techniques
		*r = recycled{}
		emptyHolders.Put(r)
	}
	ev.Fields, ev.Techniques = m, techs
	err := p.ParseInto(&ev, raw, id, peer, now)
	if err != nil {
		// Rejected: ParseInto left the emptied storage in ev.
		putStorage(ev.Fields, ev.Techniques)
		return event.Event{}, err
	}
	// A record without fields did not use that storage (ParseInto set
	// them nil): give it back. A technique array the record did not use
	// goes back only with an unused map; otherwise it is dropped, so that
	// every recycled storage has a map (see putStorage).
	if ev.Fields == nil {
		var unusedTechs []string
		if ev.Techniques == nil {
			unusedTechs = techs
		}
		putStorage(m, unusedTechs)
	}
	return ev, nil
}

// recycleFields gives the Fields maps and Techniques arrays of published
// events back to recycledStorage and drops them from evs. It must be
// called only once nothing reads evs any more: after the batch was
// published (the publish copied the encoded bytes) or lost.
func recycleFields(evs []event.Event) {
	for i := range evs {
		putStorage(evs[i].Fields, evs[i].Techniques)
		evs[i].Fields, evs[i].Techniques = nil, nil
	}
}

// putStorage empties m and techs (releasing the strings they reference)
// and keeps them for a next record, except a nil or oversized one. A
// technique array is kept only with a map: storage without a map would
// leave the next record without one (it would allocate a map while the
// recycled maps pile up in the pool).
func putStorage(m map[string]string, techs []string) {
	if m == nil || len(m) > maxRecycledFields {
		return
	}
	if cap(techs) == 0 || cap(techs) > maxRecycledTechniques {
		techs = nil
	}
	clear(m)
	clear(techs[:cap(techs)])
	r, _ := emptyHolders.Get().(*recycled)
	if r == nil {
		r = new(recycled)
	}
	r.fields, r.techniques = m, techs[:0:cap(techs)]
	recycledStorage.Put(r)
}
