package correlate

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestIncidentStoreContract runs the same suite against every IncidentStore.
func TestIncidentStoreContract(t *testing.T) {
	stores := map[string]func(t *testing.T) IncidentStore{
		"memory": func(*testing.T) IncidentStore { return NewMemoryStore() },
		"jetstream-kv": func(t *testing.T) IncidentStore {
			env := bustest.Start(t)
			s, err := NewKVStore(context.Background(), env.JS, KVConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"cached-jetstream-kv": func(t *testing.T) IncidentStore {
			env := bustest.Start(t)
			s, err := NewKVStore(context.Background(), env.JS, KVConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return NewCachedStore(s, 4, nil)
		},
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) { storeContract(t, mk(t)) })
	}
}

func testIncident(id string, alerts ...string) event.Incident {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return event.Incident{
		ID: id, Version: 1, Site: "demo-plant", Key: "demo-plant/plc-101", Title: "t", Severity: event.SevHigh,
		Status: event.StatusNew, OpenedAt: t0, FirstSeen: t0, LastSeen: t0.Add(time.Minute), UpdatedAt: t0.Add(2 * time.Minute),
		AlertIDs: alerts, RuleIDs: []string{"OT-001"}, Techniques: []string{"T0843"},
		Assets: []string{"demo-plant/plc-101"}, Zones: []string{"demo-plant/control"},
		Target: event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc", Purdue: 1, SLT: 3},
	}
}

func storeContract(t *testing.T, s IncidentStore) {
	ctx := context.Background()
	site, key := "demo-plant", "demo-plant/plc-101"
	if _, _, err := s.Current(ctx, site, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current on empty store: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Previous(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Previous unknown: err = %v, want ErrNotFound", err)
	}
	first := Entry{Incident: testIncident("inc-1", "a1")}
	rev1, err := s.Put(ctx, first, 0, nil)
	if err != nil || rev1 == 0 {
		t.Fatalf("create: rev %d, err %v", rev1, err)
	}
	got, rev, err := s.Current(ctx, site, key)
	if err != nil || rev != rev1 || !reflect.DeepEqual(got, first) {
		t.Fatalf("Current = %+v rev %d err %v; want %+v rev %d", got, rev, err, first, rev1)
	}
	// Callers own what they get: changing it must not change the store.
	got.Incident.AlertIDs[0] = "mutated"
	if again, _, _ := s.Current(ctx, site, key); again.Incident.AlertIDs[0] != "a1" {
		t.Fatalf("store aliases returned slices: %v", again.Incident.AlertIDs)
	}
	if _, err := s.Put(ctx, first, 0, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: err = %v, want ErrConflict", err)
	}
	upd := first
	upd.Incident = testIncident("inc-1", "a1", "a2")
	upd.Incident.Version = 2
	rev2, err := s.Put(ctx, upd, rev1, nil)
	if err != nil || rev2 <= rev1 {
		t.Fatalf("update: rev %d, err %v", rev2, err)
	}
	if _, err := s.Put(ctx, upd, rev1, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	// Roll over: inc-1 is closed, inc-2 becomes current.
	next := Entry{Incident: testIncident("inc-2", "a3"), Prev: "inc-1", ClosedLastSeen: upd.Incident.LastSeen}
	if _, err := s.Put(ctx, next, rev2, []Entry{upd}); err != nil {
		t.Fatalf("rollover: %v", err)
	}
	prev, err := s.Previous(ctx, "inc-1")
	if err != nil || !reflect.DeepEqual(prev, upd) {
		t.Fatalf("Previous(inc-1) = %+v, %v; want %+v", prev, err, upd)
	}
	cur, _, err := s.Current(ctx, site, key)
	if err != nil || !reflect.DeepEqual(cur, next) {
		t.Fatalf("Current after rollover = %+v, %v; want %+v", cur, err, next)
	}
	// Another key is independent.
	other := Entry{Incident: testIncident("inc-3", "a4")}
	other.Incident.Key = "demo-plant/sis-01"
	if _, err := s.Put(ctx, other, 0, nil); err != nil {
		t.Fatalf("other key: %v", err)
	}
}
