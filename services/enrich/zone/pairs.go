package zone

import (
	"strings"
	"sync"

	"github.com/c981/c981/services/shared/event"
)

// DefaultPairCapacity is the default bound of the pairs a Pairs memory holds
// per site.
const DefaultPairCapacity = 1 << 17

// Pairs remembers which endpoint pairs have communicated, to mark the first
// flow between two endpoints (event.Flow.NewPair). An endpoint is identified
// by its asset id when inventoried, else by its address; a pair is unordered
// (a reply direction is not new) and scoped to its site: every site has its
// own set, so a busy site does not push the pairs of a quiet one out.
//
// Each site's set is bounded and approximately least-recently-used: it keeps
// two generations of at most capacity/2 pairs each. A pair seen again is
// moved to the current generation; when the current generation is full, the
// previous one is dropped — its pairs are evicted, counted by Evicted — and
// the current one becomes the previous. So a pair is forgotten only after at
// least capacity/2 other distinct pairs of its site were seen since it was
// last seen, and a site holds at most capacity pairs (about 100 bytes each
// plus the strings they share with events). Callers mark only events of
// sites that have a site model (see Set.Enrich) and call Retain after a
// reload, so the number of sets is bounded by the models.
//
// Pairs lives in memory only: after a restart, or when a pair was
// forgotten, its next flow is marked new again — rules must treat new_pair
// as "not seen recently", a hint, never as proof of a first contact.
// Persisting the sets (e.g. in a JetStream key-value bucket) would cost a
// write per new pair on the enrichment hot path and still not be exact
// under redelivery, so it is not done.
//
// Pairs is safe for concurrent use and survives site model reloads.
type Pairs struct {
	mu      sync.Mutex
	half    int
	sites   map[string]*pairSet
	evicted uint64
}

type pairSet struct {
	cur, old map[pairKey]struct{}
}

type pairKey struct{ a, b string }

// NewPairs returns an empty memory holding at most capacity pairs per site
// (DefaultPairCapacity when capacity < 2).
func NewPairs(capacity int) *Pairs {
	if capacity < 2 {
		capacity = DefaultPairCapacity
	}
	return &Pairs{half: capacity / 2, sites: map[string]*pairSet{}}
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
	k := pairKey{a, b}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sites[site]
	if s == nil {
		s = &pairSet{cur: map[pairKey]struct{}{}, old: map[pairKey]struct{}{}}
		p.sites[strings.Clone(site)] = s
	}
	if _, ok := s.cur[k]; ok {
		return false
	}
	_, seen := s.old[k]
	if seen {
		delete(s.old, k)
	}
	if len(s.cur) >= p.half {
		p.evicted += uint64(len(s.old))
		s.old, s.cur = s.cur, make(map[pairKey]struct{}, len(s.cur))
	}
	// The memory outlives the event: keep copies, not substrings of a
	// decoded batch (see event.UnmarshalEventsShared), which would keep
	// the whole batch's text alive.
	s.cur[pairKey{strings.Clone(a), strings.Clone(b)}] = struct{}{}
	return !seen
}

// Retain drops the sets of the sites not in keep (sites whose model was
// removed by a reload); their pairs count as evicted.
func (p *Pairs) Retain(keep []string) {
	in := make(map[string]bool, len(keep))
	for _, s := range keep {
		in[s] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for site, s := range p.sites {
		if !in[site] {
			p.evicted += uint64(len(s.cur) + len(s.old))
			delete(p.sites, site)
		}
	}
}

// Len returns the number of pairs held, over all sites.
func (p *Pairs) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.sites {
		n += len(s.cur) + len(s.old)
	}
	return n
}

// Evicted returns the number of pairs forgotten so far to keep the bound
// (or by Retain); their next flow is marked new again.
func (p *Pairs) Evicted() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evicted
}
