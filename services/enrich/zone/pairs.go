package zone

import (
	"sync"

	"github.com/c981/c981/services/shared/event"
)

// DefaultPairCapacity is the default bound of a Pairs memory.
const DefaultPairCapacity = 1 << 20

// Pairs remembers which endpoint pairs have communicated, to mark the first
// flow between two endpoints (event.Flow.NewPair). An endpoint is identified
// by its asset id when inventoried, else by its address; a pair is unordered
// (a reply direction is not new) and scoped to the site.
//
// The memory is bounded and approximately least-recently-used: it keeps two
// generations of at most capacity/2 pairs each. A pair seen again is moved to
// the current generation; when the current generation is full, the previous
// one is dropped and the current one becomes the previous. So a pair is
// forgotten only after at least capacity/2 other distinct pairs were seen
// since it was last seen, and at most capacity pairs are held (about 100
// bytes each plus the strings they share with events). Pairs lives in memory
// only: after a restart, or when a pair was forgotten, its next flow is
// marked new again — rules must treat new_pair as "not seen recently", a
// hint, never as proof of a first contact.
//
// Pairs is safe for concurrent use and survives site model reloads.
type Pairs struct {
	mu       sync.Mutex
	half     int
	cur, old map[pairKeyT]struct{}
}

type pairKeyT struct{ site, a, b string }

// NewPairs returns an empty memory holding at most capacity pairs
// (DefaultPairCapacity when capacity < 2).
func NewPairs(capacity int) *Pairs {
	if capacity < 2 {
		capacity = DefaultPairCapacity
	}
	half := capacity / 2
	return &Pairs{half: half, cur: make(map[pairKeyT]struct{}, min(half, 1<<16)), old: map[pairKeyT]struct{}{}}
}

// Mark sets ev.Flow.NewPair for an enriched event with both addresses: true
// when its endpoint pair is not in the memory, which then remembers it. An
// event without both addresses gets false.
func (p *Pairs) Mark(ev *event.Event) {
	if ev.SrcIP == "" || ev.DstIP == "" {
		ev.Flow.NewPair = false
		return
	}
	a, b := pairID(&ev.Src, ev.SrcIP), pairID(&ev.Dst, ev.DstIP)
	if a > b {
		a, b = b, a
	}
	ev.Flow.NewPair = p.Observe(ev.Site, a, b)
}

func pairID(ep *event.Endpoint, ip string) string {
	if ep.Known && ep.AssetID != "" {
		return ep.AssetID
	}
	return ip
}

// Observe records the pair (a, b) of site — the caller orders it — and
// reports whether it was new.
func (p *Pairs) Observe(site, a, b string) bool {
	k := pairKeyT{site, a, b}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.cur[k]; ok {
		return false
	}
	_, seen := p.old[k]
	if seen {
		delete(p.old, k)
	}
	if len(p.cur) >= p.half {
		p.old, p.cur = p.cur, make(map[pairKeyT]struct{}, len(p.cur))
	}
	p.cur[k] = struct{}{}
	return !seen
}

// Len returns the number of pairs held.
func (p *Pairs) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cur) + len(p.old)
}
