package query_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

// TestEventFieldsBothRowKinds reads the demo events, one of them stored
// as before migration 0009 (fields in the Nested arrays) and the others
// as the store stores them now (fields_json), through the event search and
// the incident detail: every event comes back with its fields, whichever
// kind of row holds them.
func TestEventFieldsBothRowKinds(t *testing.T) {
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := fixture.Demo()
	if len(d.Legacy) == 0 {
		t.Fatal("the demo dataset has no legacy event: the old read path is not tested")
	}
	if err := fixture.Load(ctx, conn, d); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{}
	for _, e := range d.Events {
		if len(e.Fields) == 0 {
			t.Fatalf("demo event %s has no fields", e.ID)
		}
		want[e.ID] = e.Fields
	}
	check := func(how string, evs []event.Event) {
		t.Helper()
		for _, e := range evs {
			w, ok := want[e.ID]
			if !ok {
				continue
			}
			if !maps.Equal(e.Fields, w) {
				t.Errorf("%s: event %s fields %v, want %v", how, e.ID, e.Fields, w)
			}
		}
	}
	tests := []struct {
		name string
		read func() ([]event.Event, error)
		min  int // events of d.Events it returns at least
	}{
		{"search", func() ([]event.Event, error) {
			evs, _, err := db.SearchEvents(ctx, query.EventFilter{Site: fixture.Site, Since: fixture.Base, Until: fixture.Base.Add(24 * time.Hour)})
			return evs, err
		}, len(d.Events)},
		{"incident detail", func() ([]event.Event, error) {
			det, err := db.GetIncident(ctx, fixture.IncidentSIS)
			if err != nil {
				return nil, err
			}
			return det.Events, nil
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			n, legacy := 0, 0
			for _, e := range evs {
				if _, ok := want[e.ID]; ok {
					n++
				}
				if slices.Contains(d.Legacy, e.ID) {
					legacy++
				}
			}
			if n < tc.min || legacy == 0 {
				t.Fatalf("%d demo events (%d legacy) read, want at least %d with a legacy one", n, legacy, tc.min)
			}
			check(tc.name, evs)
		})
	}
}
