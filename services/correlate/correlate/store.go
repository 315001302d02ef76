package correlate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// Store errors.
var (
	// ErrNotFound is returned when no incident is stored under the key or id.
	ErrNotFound = errors.New("incident not found")
	// ErrConflict is returned by Put when the current incident of the key
	// changed since it was read (another writer); the caller re-reads and
	// retries.
	ErrConflict = errors.New("incident changed concurrently")
)

// Entry is what an IncidentStore keeps for one incident: its latest
// version, the id of the incident that preceded it for the same site and
// key (closed when this one was opened), and for the current incident of a
// key the input positions applied to the key, so that a redelivered
// message is recognised as applied without looking its alerts up.
type Entry struct {
	Incident event.Incident `json:"incident"`
	// Prev is the id of the previous incident of the same site and key.
	Prev string `json:"prev,omitempty"`
	// ClosedLastSeen is the latest LastSeen of all closed incidents of the
	// key.
	ClosedLastSeen time.Time `json:"closed_last_seen,omitzero"`
	// Seq is the highest input position (stream sequence) whose alerts
	// were applied to the key (0: none, or only unpositioned batches).
	Seq uint64 `json:"seq,omitempty"`
	// Applied is the journal of the last positions applied to the key
	// (at most EngineOptions.ReplayDepth, oldest first): which incidents
	// their alerts joined. A redelivered position takes its alerts'
	// incidents from it and changes nothing.
	Applied []Applied `json:"applied,omitempty"`
}

// Applied records where the alerts of one input position went for one key.
type Applied struct {
	// Seq is the input position.
	Seq uint64 `json:"seq"`
	// Runs are the incidents the key's alerts of the position joined, in
	// assignment order (event time, then evaluation order).
	Runs []Run `json:"runs"`
}

// Run is a run of consecutive alerts of one position that joined one
// incident.
type Run struct {
	// Incident is the incident id; "" is the entry's own incident (the
	// current one), which keeps a hot key's journal small.
	Incident string `json:"incident,omitempty"`
	// Alerts is the number of alerts in the run.
	Alerts int `json:"alerts"`
}

// IncidentStore persists incident state for the Engine. Implementations are
// safe for concurrent use and never alias the caller's slices.
type IncidentStore interface {
	// Current returns the current (latest) incident of site and key with
	// its revision, or ErrNotFound.
	Current(ctx context.Context, site, key string) (Entry, uint64, error)
	// Previous returns a closed incident by id, or ErrNotFound.
	Previous(ctx context.Context, id string) (Entry, error)
	// Put makes cur the current incident of its site and key if the
	// current revision is still rev (0: there must be none), first storing
	// the closed incidents it replaces. It returns ErrConflict when the
	// revision changed.
	Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error)
}

// MemoryStore is an in-process IncidentStore, for one-shot analysis and
// tests. Its state is lost when the process exits.
type MemoryStore struct {
	mu      sync.Mutex
	rev     uint64
	current map[string]memEntry
	closed  map[string]Entry
}

type memEntry struct {
	e   Entry
	rev uint64
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{current: map[string]memEntry{}, closed: map[string]Entry{}}
}

func memKey(site, key string) string { return site + "\x00" + key }

// Current implements IncidentStore.
func (s *MemoryStore) Current(_ context.Context, site, key string) (Entry, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.current[memKey(site, key)]
	if !ok {
		return Entry{}, 0, ErrNotFound
	}
	return cloneEntry(me.e), me.rev, nil
}

// Previous implements IncidentStore.
func (s *MemoryStore) Previous(_ context.Context, id string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.closed[id]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return cloneEntry(e), nil
}

// Put implements IncidentStore.
func (s *MemoryStore) Put(_ context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := memKey(cur.Incident.Site, cur.Incident.Key)
	if me, ok := s.current[k]; (ok && me.rev != rev) || (!ok && rev != 0) {
		return 0, ErrConflict
	}
	for _, c := range closed {
		s.closed[c.Incident.ID] = cloneEntry(c)
	}
	s.rev++
	s.current[k] = memEntry{e: cloneEntry(cur), rev: s.rev}
	return s.rev, nil
}

// Incidents returns the current version of every incident, closed ones
// included, in no particular order.
func (s *MemoryStore) Incidents() []event.Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]event.Incident, 0, len(s.current)+len(s.closed))
	for _, me := range s.current {
		out = append(out, cloneEntry(me.e).Incident)
	}
	for _, e := range s.closed {
		out = append(out, cloneEntry(e).Incident)
	}
	return out
}

func cloneEntry(e Entry) Entry {
	e.Incident = cloneIncident(e.Incident)
	// The Runs of a journal record are never changed once written (the
	// engine replaces them): sharing them is safe.
	e.Applied = slices.Clone(e.Applied)
	return e
}

func cloneIncident(in event.Incident) event.Incident {
	in.AlertIDs = slices.Clone(in.AlertIDs)
	in.RuleIDs = slices.Clone(in.RuleIDs)
	in.Techniques = slices.Clone(in.Techniques)
	in.Assets = slices.Clone(in.Assets)
	in.Zones = slices.Clone(in.Zones)
	return in
}

var _ IncidentStore = (*MemoryStore)(nil)
