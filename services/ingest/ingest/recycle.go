package ingest

import (
	"sync"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/event"
)

// maxRecycledFields bounds the pairs of recycled field storage: storage
// that held more is left to the garbage collector, so that one unusual
// record does not keep a large array alive.
const maxRecycledFields = 64

// maxRecycledTechniques bounds the capacity of a recycled Techniques
// array, for the same reason.
const maxRecycledTechniques = 16

// recycled is the reusable storage of one published event: its emptied
// field pairs (never nil, see syslog.Parser.ParseIntoPairs) and its
// emptied Techniques array (nil when it had none).
type recycled struct {
	pairs      *[]string
	techniques []string
}

// recycledStorage holds the storage of published events (*recycled).
// The parse side takes one for every record (parseRecycled) and the
// publish workers give it back once their batch is published
// (recycleFields), so that in steady state parsing allocates no field
// storage and no technique array. emptyHolders holds the *recycled whose
// storage was taken, for recycleFields to fill again (so that giving
// storage back allocates no holder either). A sync.Pool is per-P and is
// emptied by the garbage collector, so an idle ingest keeps no storage.
var recycledStorage, emptyHolders sync.Pool

// parseRecycled parses raw with p into *ev, an event whose field pairs
// and Techniques array, if it has them, are recycled storage (see
// recycledStorage). The event's fields are pairs (ParseIntoPairs), which
// the bus encoder writes without a map; it is otherwise the event
// p.Parse returns, and ev.DecodeFields() makes it that event. Whatever
// *ev held is overwritten, so it must reference no storage still in use
// (a zero Event, or one whose storage recycleFields or releaseQueued
// took). When raw is rejected, *ev is left zero.
func parseRecycled(ev *event.Event, p *syslog.Parser, raw []byte, id, peer string, now time.Time) error {
	var pairs *[]string
	var techs []string
	if r, _ := recycledStorage.Get().(*recycled); r != nil {
		pairs, techs = r.pairs, r.techniques
		*r = recycled{}
		emptyHolders.Put(r)
	}
	if pairs == nil {
		pairs = new([]string)
	}
	ev.Techniques = techs
	err := p.ParseIntoPairs(ev, pairs, raw, id, peer, now)
	if err != nil {
		// Rejected: ParseIntoPairs left the emptied storage.
		putStorage(pairs, ev.Techniques)
		*ev = event.Event{}
		return err
	}
	// A record without fields did not use the pairs: give them back. A
	// technique array the record did not use goes back only with unused
	// pairs; otherwise it is dropped, so that every recycled storage has
	// pairs (see putStorage).
	if ev.FieldPairs() == nil {
		var unusedTechs []string
		if ev.Techniques == nil {
			unusedTechs = techs
		}
		putStorage(pairs, unusedTechs)
	}
	return nil
}

// recycleFields gives the field pairs and Techniques arrays of published
// events back to recycledStorage and drops them from evs. It must be
// called only once nothing reads evs any more: after the batch was
// published (the publish copied the encoded bytes) or lost. An event
// whose fields are a map (not parsed by parseRecycled) gives nothing.
func recycleFields(evs []event.Event) {
	for i := range evs {
		if p := evs[i].FieldPairs(); p != nil {
			putStorage(p, evs[i].Techniques)
		}
		evs[i].SetFieldPairs(nil)
		evs[i].Techniques = nil
	}
}

// putStorage empties pairs and techs (releasing the strings they
// reference) and keeps them for a next record, except nil or oversized
// pairs. A technique array is kept only with pairs: storage without
// pairs would leave the next record without them (it would allocate
// while the recycled pairs pile up in the pool).
func putStorage(pairs *[]string, techs []string) {
	if pairs == nil || cap(*pairs) > 2*maxRecycledFields {
		return
	}
	if cap(techs) == 0 || cap(techs) > maxRecycledTechniques {
		techs = nil
	}
	clear(*pairs) // beyond its length the array is zero: append and ParseIntoPairs keep it so
	*pairs = (*pairs)[:0]
	clear(techs[:cap(techs)])
	r, _ := emptyHolders.Get().(*recycled)
	if r == nil {
		r = new(recycled)
	}
	r.pairs, r.techniques = pairs, techs[:0:cap(techs)]
	recycledStorage.Put(r)
}
