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

// fieldMaps holds the emptied Fields maps of published events. The parse
// side takes one for every record (parseRecycled) and the publish workers
// give them back once their batch is published (recycleFields), so that in
// steady state parsing allocates no map: building Event.Fields in a fresh
// map cost more than the rest of the parsing. A sync.Pool is per-P and
// is emptied by the garbage collector, so an idle ingest keeps no maps.
var fieldMaps sync.Pool

// parseRecycled parses raw with p into an event whose Fields map, if it
// has one, is a recycled map (see fieldMaps). The event is exactly the one
// p.Parse returns: ParseInto keeps only the emptied storage of the map.
func parseRecycled(p *syslog.Parser, raw []byte, id, peer string, now time.Time) (event.Event, error) {
	var ev event.Event
	m, _ := fieldMaps.Get().(map[string]string)
	ev.Fields = m
	err := p.ParseInto(&ev, raw, id, peer, now)
	if err != nil || ev.Fields == nil {
		// Rejected, or a record without fields: the map was not used.
		putFields(m)
	}
	if err != nil {
		return event.Event{}, err
	}
	return ev, nil
}

// recycleFields gives the Fields maps of published events back to
// fieldMaps and drops them from evs. It must be called only once nothing
// reads evs any more: after the batch was published (the publish copied
// the encoded bytes) or lost.
func recycleFields(evs []event.Event) {
	for i := range evs {
		putFields(evs[i].Fields)
		evs[i].Fields = nil
	}
}

// putFields empties m (releasing the strings it references) and keeps it
// for a next record, unless it is nil or larger than maxRecycledFields.
func putFields(m map[string]string) {
	if m == nil || len(m) > maxRecycledFields {
		return
	}
	clear(m)
	fieldMaps.Put(m)
}
