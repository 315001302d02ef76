package enrich

import (
	"testing"
	"unsafe"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestRecycler checks the free lists: a released item's buffer and events
// come back (the events cleared, so they keep no message alive), a buffer
// too small for the request is not handed out, and the lists are bounded.
func TestRecycler(t *testing.T) {
	r := newRecycler(1)
	buf := make([]byte, 100, 4096)
	evs := []event.Event{{ID: "a", Raw: "raw"}, {ID: "b"}}
	r.release(&item{evs: evs, outs: []output{{data: buf}, {data: nil}}})
	got := r.buffer(4000)
	if len(got) != 0 || cap(got) != 4096 || unsafe.SliceData(got) != unsafe.SliceData(buf) {
		t.Errorf("buffer(4000) = len %d cap %d, not the released buffer", len(got), cap(got))
	}
	gotEvs := r.events()
	if len(gotEvs) != 0 || cap(gotEvs) != 2 || unsafe.SliceData(gotEvs) != unsafe.SliceData(evs) {
		t.Fatalf("events() = len %d cap %d, not the released slice", len(gotEvs), cap(gotEvs))
	}
	for i, ev := range gotEvs[:cap(gotEvs)] {
		if ev.ID != "" || ev.Raw != "" {
			t.Errorf("recycled event %d not cleared: %+v", i, ev)
		}
	}
	if r.events() != nil {
		t.Error("events() from an empty list is not nil")
	}
	r.release(&item{outs: []output{{data: make([]byte, 0, 10)}}})
	if b := r.buffer(11); cap(b) < 11 {
		t.Errorf("buffer(11) has capacity %d", cap(b))
	}
	for range 10 { // more than the lists hold: must not block
		r.release(&item{evs: make([]event.Event, 1), outs: []output{{data: make([]byte, 1)}}})
	}
	if len(r.bufs) != cap(r.bufs) || len(r.evs) != cap(r.evs) {
		t.Errorf("free lists hold %d buffers and %d event slices, want %d each", len(r.bufs), len(r.evs), cap(r.bufs))
	}
}

// TestOrderedRecycles runs the stage over many windows: the output stays
// the input, in order, while the buffers of acknowledged windows are
// reused (the free lists fill) - a buffer recycled too early would corrupt
// a later batch.
func TestOrderedRecycles(t *testing.T) {
	env := bustest.Start(t)
	want := orderedInput(t, env.JS, 40, 25, nil)
	svc, reg := runService(t, env.JS, Config{MaxAckPending: 4, Workers: 2})
	sameOrder(t, readOrdered(t, env.JS, len(want)), want)
	waitAtLeast(t, reg, "c981_enrich_batches_total", 40)
	eventually(t, func() bool { return len(svc.free.bufs) > 0 && len(svc.free.evs) > 0 })
}
