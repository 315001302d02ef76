package correlate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// putCounter counts the writes that reach the store behind a CachedStore
// (Flush writes the keys of a group concurrently).
type putCounter struct {
	IncidentStore
	puts atomic.Int64
}

func (s *putCounter) Put(ctx context.Context, cur Entry, rev uint64, closed []Entry) (uint64, error) {
	s.puts.Add(1)
	return s.IncidentStore.Put(ctx, cur, rev, closed)
}

// TestCachedStoreDeferred checks deferred writes: Puts of a group reach
// the store only at Flush, once per key with the revision the group
// started from; Discard forgets them; a concurrent writer makes Flush fail
// and drops the key.
func TestCachedStoreDeferred(t *testing.T) {
	entry := func(key string, version uint64) Entry {
		return Entry{Incident: event.Incident{ID: "inc-" + key, Site: "s", Key: key, Version: version}}
	}
	tests := []struct {
		name      string
		keys      []string // one deferred Put per element, in order
		end       string   // "flush", "discard" or "conflict" (another writer first)
		wantPuts  int
		wantErr   bool
		wantStore map[string]uint64 // key -> stored version (0: none)
	}{
		{"one write per key and group", []string{"a", "a", "a", "b"}, "flush", 2, false, map[string]uint64{"a": 3, "b": 1}},
		{"discard stores nothing", []string{"a", "b"}, "discard", 0, false, map[string]uint64{"a": 0, "b": 0}},
		{"another writer conflicts at flush", []string{"a", "a"}, "conflict", 1, true, map[string]uint64{"a": 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			mem := NewMemoryStore()
			next := &putCounter{IncidentStore: mem}
			c := NewCachedStore(next, 0, nil)
			c.SetDeferred(true)
			versions := map[string]uint64{}
			for _, k := range tt.keys {
				_, rev, err := c.Current(ctx, "s", k)
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Fatal(err)
				}
				versions[k]++
				if _, err := c.Put(ctx, entry(k, versions[k]), rev, nil); err != nil {
					t.Fatalf("deferred put %s: %v", k, err)
				}
			}
			if next.puts.Load() != 0 {
				t.Fatalf("%d writes reached the store before Flush", next.puts.Load())
			}
			var err error
			switch tt.end {
			case "flush":
				err = c.Flush(ctx, 4)
			case "discard":
				c.Discard()
			case "conflict":
				if _, err := mem.Put(ctx, entry("a", 99), 0, nil); err != nil {
					t.Fatal(err)
				}
				err = c.Flush(ctx, 4)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("end %s: err = %v, want error %v", tt.end, err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, ErrConflict) {
				t.Errorf("err = %v, want ErrConflict", err)
			}
			if got := int(next.puts.Load()); got != tt.wantPuts {
				t.Errorf("store writes = %d, want %d", got, tt.wantPuts)
			}
			c.SetDeferred(false)
			for k, want := range tt.wantStore {
				got, _, err := mem.Current(ctx, "s", k)
				if want == 0 {
					if !errors.Is(err, ErrNotFound) {
						t.Errorf("store %s = %+v, %v; want none", k, got.Incident, err)
					}
					continue
				}
				if err != nil || got.Incident.Version != want {
					t.Errorf("store %s version = %d, %v; want %d", k, got.Incident.Version, err, want)
				}
				// The cache agrees with the store (a conflicting key
				// was dropped and is read again).
				cached, _, err := c.Current(ctx, "s", k)
				if err != nil || cached.Incident.Version != want {
					t.Errorf("cached %s version = %d, %v; want %d", k, cached.Incident.Version, err, want)
				}
			}
		})
	}
}

// TestMergeAll checks that the checkpoint of a group of messages keeps
// the last record of every key and site.
func TestMergeAll(t *testing.T) {
	rec := func(hash uint64, n int32) KeyRecord {
		return KeyRecord{Rule: "R", Site: "s", Hash: hash, State: keyState{Count: n}}
	}
	del := func(hash uint64) string { return keyStoreKey("R", "s", hash) }
	tests := []struct {
		name    string
		cps     []Checkpoint
		keys    map[uint64]int32 // hash -> count of the record kept
		deleted []string
		high    int64
	}{
		{"one", []Checkpoint{{Keys: []KeyRecord{rec(1, 1)}, Sites: []SiteRecord{{Site: "s", High: 5}}}}, map[uint64]int32{1: 1}, nil, 5},
		{"last record wins", []Checkpoint{
			{Keys: []KeyRecord{rec(1, 1), rec(2, 1)}, Sites: []SiteRecord{{Site: "s", High: 5}}},
			{Keys: []KeyRecord{rec(1, 2)}, Sites: []SiteRecord{{Site: "s", High: 7}}},
		}, map[uint64]int32{1: 2, 2: 1}, nil, 7},
		{"changed then deleted", []Checkpoint{{Keys: []KeyRecord{rec(1, 1)}}, {Deleted: []string{del(1)}}}, map[uint64]int32{}, []string{del(1)}, 0},
		{"deleted then changed", []Checkpoint{{Deleted: []string{del(1)}}, {Keys: []KeyRecord{rec(1, 3)}}}, map[uint64]int32{1: 3}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeAll(tt.cps)
			keys := map[uint64]int32{}
			for _, r := range got.Keys {
				if _, dup := keys[r.Hash]; dup {
					t.Errorf("key %d written twice", r.Hash)
				}
				keys[r.Hash] = r.State.Count
			}
			if len(keys) != len(tt.keys) {
				t.Errorf("keys = %v, want %v", keys, tt.keys)
			}
			for h, n := range tt.keys {
				if keys[h] != n {
					t.Errorf("key %d count = %d, want %d", h, keys[h], n)
				}
			}
			if len(got.Deleted) != len(tt.deleted) || (len(tt.deleted) > 0 && got.Deleted[0] != tt.deleted[0]) {
				t.Errorf("deleted = %v, want %v", got.Deleted, tt.deleted)
			}
			var high int64
			if len(got.Sites) > 1 {
				t.Errorf("sites = %v, want one", got.Sites)
			}
			for _, sr := range got.Sites {
				high = sr.High
			}
			if high != tt.high {
				t.Errorf("watermark = %d, want %d", high, tt.high)
			}
		})
	}
}
