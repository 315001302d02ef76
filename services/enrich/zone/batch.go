package zone

import "github.com/c981/c981/services/shared/event"

// batchChunk is how many events EnrichBatch looks up at once: the IPv4
// table slots of all their endpoints are located first, in a loop whose
// loads do not depend on each other, so that the CPU overlaps their cache
// misses, and only then used. A chunk's pointers stay on the stack.
const batchChunk = 32

// lookup is what the lookup of an event leaves for the rest of its
// enrichment: its site's index (nil when the site has no model) and the
// refs of its resolved endpoints.
type lookup struct {
	ix     *Index
	sr, dr ref
}

// EnrichBatch enriches every event of evs exactly as Enrich does, and sets
// found[i] to whether the site of evs[i] has a model (found may be nil;
// otherwise it must be at least as long as evs). It is the enrich stage's
// entry point: on a large model it is several times faster than Enrich
// per event, because it looks up the endpoints of many events before it
// uses any of them.
func (s *Set) EnrichBatch(evs []event.Event, found []bool) {
	var lk [batchChunk]lookup
	for start := 0; start < len(evs); start += batchChunk {
		chunk := evs[start:min(start+batchChunk, len(evs))]
		s.lookupBatch(chunk, &lk)
		for i := range chunk {
			ev, l := &chunk[i], &lk[i]
			if l.ix == nil {
				EnrichUnknownSite(ev)
			} else {
				l.ix.finish(ev, l.sr, l.dr)
			}
			if found != nil {
				found[start+i] = l.ix != nil
			}
		}
	}
}

// lookupBatch is the lookup of EnrichBatch for at most batchChunk events:
// for each event with a site model, its endpoints (ev.Src, ev.Dst) and the
// conduit verdict (ev.Flow, without the derived fields that finish sets).
// lk[i] receives what the rest of the enrichment of evs[i] needs. It first
// finds the IPv4 table slots of every endpoint, then fills the endpoints
// and checks the flows; an endpoint that is not an IPv4 asset address is
// resolved as Resolve does.
func (s *Set) lookupBatch(evs []event.Event, lk *[batchChunk]lookup) {
	// First pass: the site index and the home slot of every IPv4 endpoint.
	var ends [2 * batchChunk]pending
	var last *Index
	lastSite := ""
	for i := range evs {
		ev := &evs[i]
		if last == nil || ev.Site != lastSite {
			last, lastSite = s.sites[ev.Site], ev.Site
		}
		lk[i].ix = last
		src, dst := &ends[2*i], &ends[2*i+1]
		src.slots, dst.slots = nil, nil
		if last == nil {
			continue
		}
		t := &last.byIPv4
		if a, ok := parseIPv4(ev.SrcIP); ok {
			*src = pending{addr: a, home: int32(t.home(a)), slots: t.slots}
		}
		if a, ok := parseIPv4(ev.DstIP); ok {
			*dst = pending{addr: a, home: int32(t.home(a)), slots: t.slots}
		}
	}
	// Second pass: copy the home slots. The loop is short and no branch
	// depends on what it loads, so the CPU keeps the cache misses of many
	// endpoints in flight at once; interleaved with the first pass's
	// parsing, or probing with branches on the loaded slots, they would
	// follow each other.
	n := 2 * len(evs)
	for j := range ends[:n] {
		if p := &ends[j]; p.slots != nil {
			p.slot = p.slots[p.home]
		}
	}
	// Third pass: the slots are in the cache; finish the probes, fill the
	// endpoints and check the flows.
	for i := range evs {
		ev, l := &evs[i], &lk[i]
		ix := l.ix
		if ix == nil {
			continue
		}
		if s := ix.byIPv4.found(&ends[2*i]); s != nil {
			l.sr = ix.fromSlot(&ev.Src, ev.SrcIP, s)
		} else {
			l.sr = ix.resolve(&ev.Src, ev.SrcIP, ev.SrcMAC, srcHost(ev))
		}
		if s := ix.byIPv4.found(&ends[2*i+1]); s != nil {
			l.dr = ix.fromSlot(&ev.Dst, ev.DstIP, s)
		} else {
			l.dr = ix.resolve(&ev.Dst, ev.DstIP, ev.DstMAC, "")
		}
		ix.flow(ev, l.sr, l.dr)
	}
}

// pending is an IPv4 endpoint between the passes of lookupBatch: its
// address, its table's slots (nil when the endpoint is not an IPv4
// address), its home slot index there and a copy of that slot.
type pending struct {
	slots []v4Slot
	slot  v4Slot
	addr  uint32
	home  int32
}

// found finishes the lookup of p: the slot of its address, nil when p is
// not an IPv4 address or the address is not in the table.
func (t *v4Table) found(p *pending) *v4Slot {
	if p.slots == nil {
		return nil
	}
	if p.slot.addr == p.addr && p.slot.cls != 0 {
		return &t.slots[p.home]
	}
	if p.slot.cls == 0 {
		return nil
	}
	return t.getFrom(p.addr, int(p.home)+1)
}
