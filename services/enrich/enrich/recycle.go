package enrich

import (
	"github.com/c981/c981/services/shared/event"
)

// recycler keeps the two large allocations of a raw batch for the next
// windows: its decoded events (about 750 bytes each) and its encoded
// enriched batch (about 1.4 KiB per event). Without it every 1,000-event
// batch allocated some 2 MiB that the collector then had to reclaim. Both
// free lists are bounded (two windows' worth), so an idle stage keeps at
// most that much.
type recycler struct {
	evs  chan []event.Event
	bufs chan []byte
}

func newRecycler(window int) *recycler {
	return &recycler{evs: make(chan []event.Event, 2*window), bufs: make(chan []byte, 2*window)}
}

// events returns an empty slice for decoding a batch: a recycled one, or
// nil (the decoder allocates).
func (r *recycler) events() []event.Event {
	select {
	case evs := <-r.evs:
		return evs
	default:
		return nil
	}
}

// buffer returns an empty buffer of at least size bytes' capacity: a
// recycled one when it is large enough, else a new one.
func (r *recycler) buffer(size int) []byte {
	select {
	case b := <-r.bufs:
		if cap(b) >= size {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, size)
}

// release gives back what a finished item holds. It must be called only
// once nothing refers to it any more: every output published and
// acknowledged (a pipelined publish whose acknowledgement never came may
// still be sent again by the client), the events no longer needed.
func (r *recycler) release(it *item) {
	for _, o := range it.outs {
		if o.data == nil {
			continue
		}
		select {
		case r.bufs <- o.data[:0]:
		default:
		}
	}
	if it.evs != nil {
		// The events' strings share the raw message's memory: clear them
		// so that a kept slice does not keep the message alive.
		clear(it.evs[:cap(it.evs)])
		select {
		case r.evs <- it.evs[:0]:
		default:
		}
	}
	it.evs, it.groups, it.outs = nil, nil, nil
}
