package correlate

import (
	"context"
	"errors"
	"fmt"
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
//
// Deferred writes (SetDeferred, the service's mode): Put only updates the
// cache and remembers the key as dirty; Flush writes every dirty key's
// latest entry with one revision-checked write per key (all keys at once),
// and Discard forgets what was not flushed. The service applies a group of
// buffered messages with deferred writes and flushes before publishing
// their outputs, so a group costs one store round trip instead of one per
// message, and an incident is still durable before any alert or version
// naming it is published. A conflict then surfaces at Flush: nothing of
// the group was published, and the service restarts from its checkpoint.
type CachedStore struct {
	next IncidentStore
	max  int
	hits prometheus.Counter
	miss prometheus.Counter
	mu   sync.Mutex
	cur  map[string]cachedEntry
	// deferred is the write mode; dirty the keys written since the last
	// Flush or Discard.
	deferred bool
	dirty    map[string]*dirtyKey
}

// dirtyKey is a key whose latest entry (in cur) is not yet stored: base is
// the stored revision it was read or written at, closed the incidents the
// deferred writes closed, oldest first.
type dirtyKey struct {
	base   uint64
	closed []Entry
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

// Previous implements IncidentStore (not cached; a closed incident of a
// deferred write not yet flushed is taken from the write).
func (s *CachedStore) Previous(ctx context.Context, id string) (Entry, error) {
	s.mu.Lock()
	for _, d := range s.dirty {
		for i := range d.closed {
			if d.closed[i].Incident.ID == id {
				e := cloneEntry(d.closed[i])
				s.mu.Unlock()
				return e, nil
			}
		}
	}
	s.mu.Unlock()
	return s.next.Previous(ctx, id)
}

// SetDeferred switches deferred writes on or off (see CachedStore). Call
// it before use or after a Flush or Discard.
func (s *CachedStore) SetDeferred(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deferred = on
}

// Put implements IncidentStore: a successful write updates the cache, a
// failed one drops the key. A deferred write only updates the cache and
// returns rev unchanged: the store's revision is known after Flush.
func (s *CachedStore) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	k := memKey(cur.Incident.Site, cur.Incident.Key)
	s.mu.Lock()
	if s.deferred {
		defer s.mu.Unlock()
		d := s.dirty[k]
		if d == nil {
			if s.dirty == nil {
				s.dirty = map[string]*dirtyKey{}
			}
			d = &dirtyKey{base: rev}
			s.dirty[k] = d
		} else if rev != d.base {
			return 0, fmt.Errorf("deferred put incident %s (rev %d, read at %d): %w", cur.Incident.ID, rev, d.base, ErrConflict)
		}
		for _, c := range closed {
			d.closed = append(d.closed, cloneEntry(c))
		}
		s.storeLocked(k, cachedEntry{e: cloneEntry(cur), rev: rev, found: true})
		return rev, nil
	}
	s.mu.Unlock()
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

// Flush stores the latest entry of every key written since the last
// Flush or Discard (deferred writes), up to parallel keys at once, each
// with the closed incidents it produced and a check of the revision the
// first deferred write was based on. It returns the first error; the
// writes still running are then cancelled, and every key not stored is
// dropped from the cache (re-read on its next use).
func (s *CachedStore) Flush(ctx context.Context, parallel int) error {
	s.mu.Lock()
	type job struct {
		k string
		e Entry
		d *dirtyKey
	}
	jobs := make([]job, 0, len(s.dirty))
	for k, d := range s.dirty {
		jobs = append(jobs, job{k, s.cur[k].e, d})
	}
	s.dirty = nil
	s.mu.Unlock()
	stored := make([]bool, len(jobs))
	err := forEach(ctx, len(jobs), parallel, func(ctx context.Context, i int) error {
		j := jobs[i]
		rev, err := s.next.Put(ctx, j.e, j.d.base, j.d.closed)
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if ce, ok := s.cur[j.k]; ok {
			ce.rev = rev
			s.cur[j.k] = ce
		}
		stored[i] = true
		return nil
	})
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, j := range jobs {
			if !stored[i] {
				delete(s.cur, j.k)
			}
		}
		return fmt.Errorf("flush incidents: %w", err)
	}
	return nil
}

// Discard forgets the deferred writes not flushed: their keys are dropped
// from the cache and read from the store on their next use.
func (s *CachedStore) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.dirty {
		delete(s.cur, k)
	}
	s.dirty = nil
}

// store caches ce under k; at the bound, an arbitrary eighth of the keys
// is dropped first (they are re-read on their next use).
func (s *CachedStore) store(k string, ce cachedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeLocked(k, ce)
}

// storeLocked is store with s.mu held. Keys with deferred writes not yet
// flushed are never dropped: the cache holds their only copy.
func (s *CachedStore) storeLocked(k string, ce cachedEntry) {
	if _, ok := s.cur[k]; !ok && len(s.cur) >= s.max {
		drop := max(s.max/8, 1)
		for key := range s.cur {
			if drop == 0 {
				break
			}
			if _, dirty := s.dirty[key]; dirty {
				continue
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
