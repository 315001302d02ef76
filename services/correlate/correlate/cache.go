package correlate

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultIncidentCache is the default number of incident keys whose current
// incident a CachedStore keeps.
const DefaultIncidentCache = 20000

// CachedStore keeps the current incident (and its revision) of recently
// used keys in memory in front of another IncidentStore, so that the
// engine reads an incident from the store only the first time it sees the
// key: an update costs one revision-checked write instead of a read and a
// write (with the decoding of the whole incident). A key known to have no
// incident is cached too.
//
// The cache never weakens the store's guarantees: writes still carry the
// revision the cached entry was read or written at, so a change by another
// writer (a second replica during a rebalance, a restarted process) makes
// the write fail with ErrConflict; the key is then dropped from the cache
// and the engine's retry reads the store. Any other failed write drops the
// key too. Closed incidents are read from the store. Safe for concurrent
// use.
type CachedStore struct {
	next IncidentStore
	max  int
	hits prometheus.Counter
	miss prometheus.Counter
	mu   sync.Mutex
	cur  map[string]cachedEntry
}

type cachedEntry struct {
	e     Entry
	rev   uint64
	found bool
}

// NewCachedStore returns a cache of up to size keys (<= 0:
// DefaultIncidentCache) in front of next; hits and misses are counted in m
// (nil: not counted).
func NewCachedStore(next IncidentStore, size int, m *Metrics) *CachedStore {
	if size <= 0 {
		size = DefaultIncidentCache
	}
	s := &CachedStore{next: next, max: size, cur: map[string]cachedEntry{}}
	if m != nil {
		s.hits = m.IncidentCache.WithLabelValues("hit")
		s.miss = m.IncidentCache.WithLabelValues("miss")
	}
	return s
}

// Current implements IncidentStore.
func (s *CachedStore) Current(ctx context.Context, site, key string) (Entry, uint64, error) {
	k := memKey(site, key)
	s.mu.Lock()
	ce, ok := s.cur[k]
	s.mu.Unlock()
	if ok {
		count(s.hits)
		if !ce.found {
			return Entry{}, 0, ErrNotFound
		}
		return cloneEntry(ce.e), ce.rev, nil
	}
	count(s.miss)
	e, rev, err := s.next.Current(ctx, site, key)
	switch {
	case err == nil:
		s.store(k, cachedEntry{e: cloneEntry(e), rev: rev, found: true})
	case errors.Is(err, ErrNotFound):
		s.store(k, cachedEntry{})
	}
	return e, rev, err
}

// Previous implements IncidentStore (not cached).
func (s *CachedStore) Previous(ctx context.Context, id string) (Entry, error) {
	return s.next.Previous(ctx, id)
}

// Put implements IncidentStore: a successful write updates the cache, a
// failed one drops the key.
func (s *CachedStore) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	k := memKey(cur.Incident.Site, cur.Incident.Key)
	newRev, err := s.next.Put(ctx, cur, rev, closed)
	if err != nil {
		s.mu.Lock()
		delete(s.cur, k)
		s.mu.Unlock()
		return 0, err
	}
	s.store(k, cachedEntry{e: cloneEntry(cur), rev: newRev, found: true})
	return newRev, nil
}

// Len returns the number of cached keys.
func (s *CachedStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cur)
}

// store caches ce under k; at the bound, an arbitrary eighth of the keys
// is dropped first (they are re-read on their next use).
func (s *CachedStore) store(k string, ce cachedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cur[k]; !ok && len(s.cur) >= s.max {
		drop := max(s.max/8, 1)
		for key := range s.cur {
			if drop == 0 {
				break
			}
			delete(s.cur, key)
			drop--
		}
	}
	s.cur[k] = ce
}

func count(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}

var _ IncidentStore = (*CachedStore)(nil)
