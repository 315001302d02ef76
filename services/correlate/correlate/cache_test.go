package correlate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// countingStore counts the reads of current incidents that reach the
// store.
type countingStore struct {
	IncidentStore
	reads atomic.Int64
}

func (s *countingStore) Current(ctx context.Context, site, key string) (Entry, uint64, error) {
	s.reads.Add(1)
	return s.IncidentStore.Current(ctx, site, key)
}

func newKV(t *testing.T) *KVStore {
	t.Helper()
	env := bustest.Start(t)
	kv, err := NewKVStore(context.Background(), env.JS, KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestCachedStoreReads: after the first batch, updating an incident reads
// nothing from the store.
func TestCachedStoreReads(t *testing.T) {
	ctx := context.Background()
	under := &countingStore{IncidentStore: newKV(t)}
	m, _ := NewMetrics(nil)
	eng, _ := newTestEngine(t, NewCachedStore(under, 0, m))
	var last event.Incident
	for i := range 5 {
		// Writes from the historian to plc-101 that no conduit allows
		// (OT-006 and OT-007, one incident for plc-101), one batch each.
		_, incs, err := eng.Process(ctx, []event.Event{flow("w"+strconv.Itoa(i), time.Duration(i)*time.Minute, hist, plc101, "write", false)})
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) != 1 {
			t.Fatalf("batch %d: %d incidents", i, len(incs))
		}
		last = incs[0]
	}
	if last.Version != 5 || len(last.AlertIDs) != 10 {
		t.Fatalf("incident version %d with %d alerts, want 5 and 10", last.Version, len(last.AlertIDs))
	}
	if got := under.reads.Load(); got != 1 {
		t.Errorf("store reads = %d, want 1 (the first, which found nothing)", got)
	}
	if hits, miss := testutil.ToFloat64(m.IncidentCache.WithLabelValues("hit")), testutil.ToFloat64(m.IncidentCache.WithLabelValues("miss")); hits != 4 || miss != 1 {
		t.Errorf("cache hits %v misses %v, want 4 and 1", hits, miss)
	}
	stored, _, err := under.Current(ctx, last.Site, last.Key)
	if err != nil || !sameIncidents([]event.Incident{stored.Incident}, []event.Incident{last}) {
		t.Fatalf("stored incident %+v (err %v) differs from the returned one %+v", stored.Incident, err, last)
	}
}

// TestCachedStoreOtherWriter: two engines with their own caches share one
// JetStream store (a rebalance overlap). A write based on a stale cached
// revision conflicts, the key is re-read and no alert is lost.
func TestCachedStoreOtherWriter(t *testing.T) {
	ctx := context.Background()
	kv := newKV(t)
	a, _ := newTestEngine(t, NewCachedStore(kv, 0, nil))
	b, _ := newTestEngine(t, NewCachedStore(kv, 0, nil))
	steps := []struct {
		eng *Engine
		id  string
	}{
		{a, "x1"}, // a creates the incident and caches it
		{b, "x2"}, // b reads it and updates it: a's cache is stale
		{a, "x3"}, // a's write conflicts; a re-reads and merges
		{b, "x4"}, // b's cache is stale too
	}
	var last event.Incident
	for i, st := range steps {
		_, incs, err := st.eng.Process(ctx, []event.Event{flow(st.id, time.Duration(i)*time.Minute, hist, plc101, "write", false)})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		last = incs[0]
	}
	if len(last.AlertIDs) != 8 || last.Version != 4 {
		t.Fatalf("final incident v%d alerts %v, want v4 with 8 alerts (OT-006 and OT-007 per event)", last.Version, last.AlertIDs)
	}
	if c := testutil.ToFloat64(a.metrics.StoreConflicts) + testutil.ToFloat64(b.metrics.StoreConflicts); c != 2 {
		t.Errorf("conflicts = %v, want 2 (one per stale cache)", c)
	}
	// A cached "no incident" is stale as soon as another writer creates one.
	c := NewCachedStore(kv, 0, nil)
	if _, _, err := c.Current(ctx, "site-2", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current: %v", err)
	}
	if _, err := kv.Put(ctx, Entry{Incident: event.Incident{ID: "i2", Site: "site-2", Key: "k"}}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, Entry{Incident: event.Incident{ID: "i3", Site: "site-2", Key: "k"}}, 0, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over a stale negative entry: err = %v, want ErrConflict", err)
	}
	if got, _, err := c.Current(ctx, "site-2", "k"); err != nil || got.Incident.ID != "i2" {
		t.Fatalf("after the conflict: %+v, %v; want the other writer's i2", got.Incident, err)
	}
}

// TestCachedStoreBound: the cache never holds more keys than its size.
func TestCachedStoreBound(t *testing.T) {
	ctx := context.Background()
	c := NewCachedStore(NewMemoryStore(), 16, nil)
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		if _, err := c.Put(ctx, Entry{Incident: event.Incident{ID: k, Site: "s", Key: k}}, 0, nil); err != nil {
			t.Fatal(err)
		}
		if n := c.Len(); n > 16 {
			t.Fatalf("after %d keys the cache holds %d, bound 16", i+1, n)
		}
	}
	// Evicted keys are read again from the store.
	for i := range 100 {
		k := "k" + strconv.Itoa(i)
		if e, _, err := c.Current(ctx, "s", k); err != nil || e.Incident.ID != k {
			t.Fatalf("%s: %+v, %v", k, e.Incident, err)
		}
	}
}

// TestEngineStoreConcurrency: assigning the incident keys of a batch
// concurrently gives exactly the alerts and incidents of one key after the
// other, in the same order.
func TestEngineStoreConcurrency(t *testing.T) {
	ctx := context.Background()
	batch := benchBatch()
	for i := range batch {
		if i%10 == 3 {
			src := rogue
			src.IP = "10.20.1." + strconv.Itoa(100+i/10)
			batch[i] = flow(batch[i].ID, time.Duration(i)*50*time.Millisecond, src, plc101, "read", true)
		}
	}
	run := func(parallel int) ([]event.Alert, []event.Incident) {
		eng, _ := newTestEngine(t, NewMemoryStore())
		eng.parallel = parallel
		var alerts []event.Alert
		var incs []event.Incident
		for i := range 3 {
			b := slices.Clone(batch)
			for j := range b {
				b[j].ID += "-" + strconv.Itoa(i)
				b[j].Time = b[j].Time.Add(time.Duration(i) * time.Minute)
			}
			a, in, err := eng.Process(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			alerts, incs = append(alerts, a...), append(incs, in...)
		}
		return alerts, incs
	}
	a1, i1 := run(1)
	a32, i32 := run(32)
	if len(i1) < 100 {
		t.Fatalf("only %d incident versions: the batch does not exercise concurrency", len(i1))
	}
	if len(a1) != len(a32) || len(i1) != len(i32) {
		t.Fatalf("sequential %d alerts %d incidents, concurrent %d and %d", len(a1), len(i1), len(a32), len(i32))
	}
	for i := range a1 {
		if a1[i].ID != a32[i].ID || a1[i].IncidentID != a32[i].IncidentID {
			t.Fatalf("alert %d: %s in %s vs %s in %s", i, a1[i].ID, a1[i].IncidentID, a32[i].ID, a32[i].IncidentID)
		}
	}
	for i := range i1 {
		if i1[i].ID != i32[i].ID || i1[i].Version != i32[i].Version || !slices.Equal(i1[i].AlertIDs, i32[i].AlertIDs) {
			t.Fatalf("incident %d: %s v%d vs %s v%d", i, i1[i].ID, i1[i].Version, i32[i].ID, i32[i].Version)
		}
	}
}

// failingStore fails every write of one key.
type failingStore struct {
	*MemoryStore
	key string
}

func (s *failingStore) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	if cur.Incident.Key == s.key {
		return 0, errors.New("simulated store outage")
	}
	return s.MemoryStore.Put(ctx, cur, rev, closed)
}

// TestEngineStoreConcurrencyError: one failing key fails the batch (to be
// retried whole), whatever the other keys did.
func TestEngineStoreConcurrencyError(t *testing.T) {
	batch := benchBatch()
	eng, _ := newTestEngine(t, &failingStore{MemoryStore: NewMemoryStore(), key: "demo-plant/plc-102"})
	if _, _, err := eng.Process(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "simulated store outage") {
		t.Fatalf("err = %v, want the store outage", err)
	}
}
