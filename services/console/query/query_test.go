package query_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

func demoDB(t *testing.T) *query.DB {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func ids(list []query.IncidentSummary) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

func TestListIncidentsLatestVersion(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	all, next, err := db.ListIncidents(ctx, query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" {
		t.Errorf("next cursor %q on a single page", next)
	}
	if len(all) != 6 {
		t.Fatalf("got %d incidents, want 6 (one row per id): %v", len(all), ids(all))
	}
	byID := map[string]query.IncidentSummary{}
	for _, s := range all {
		if _, dup := byID[s.ID]; dup {
			t.Errorf("incident %s listed twice", s.ID)
		}
		byID[s.ID] = s
	}
	sis := byID[fixture.IncidentSIS]
	if sis.Version != 2 || sis.Status != event.StatusInvestigating || sis.Severity != event.SevCritical || sis.AlertCount != 2 {
		t.Errorf("SIS incident = version %d %s/%s %d alerts, want version 2 investigating/critical 2 alerts", sis.Version, sis.Status, sis.Severity, sis.AlertCount)
	}
	late := byID[fixture.IncidentLate]
	if late.Version != 2 || late.Status != event.StatusAcknowledged || !late.FirstSeen.Equal(fixture.Base.Add(-45*time.Hour)) {
		t.Errorf("late incident = version %d %s first seen %s, want version 2 acknowledged first seen %s", late.Version, late.Status, late.FirstSeen, fixture.Base.Add(-45*time.Hour))
	}
	if !late.OpenedAt.Equal(fixture.Base.Add(3 * time.Hour)) {
		t.Errorf("late incident opened at %s, want %s (the first version's)", late.OpenedAt, fixture.Base.Add(3*time.Hour))
	}
	// A filter on an old version's value must not resurrect the old version.
	news, _, err := db.ListIncidents(ctx, query.Filter{Status: []string{event.StatusNew}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range news {
		if s.ID == fixture.IncidentSIS || s.ID == fixture.IncidentLate {
			t.Errorf("status=new lists %s whose latest status is %s", s.ID, s.Status)
		}
	}
}

func TestListIncidentsPagination(t *testing.T) {
	conn := fixture.Open(t)
	ctx := context.Background()
	const n = 37
	if err := fixture.Load(ctx, conn, fixture.Dataset{Incidents: fixture.Bulk(fixture.Site, n)}); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		filter query.Filter
		want   int
	}{
		{"all", query.Filter{Site: fixture.Site}, n},
		{"severity high", query.Filter{Site: fixture.Site, Severity: event.SevHigh}, 14}, // i%5 in {3, 4}
		{"text", query.Filter{Text: "BULK INCIDENT 1"}, 11},                              // 1, 10..19
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := tc.filter
			full.Limit = query.MaxLimit
			whole, next, err := db.ListIncidents(ctx, full)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" || len(whole) != tc.want {
				t.Fatalf("single page: %d incidents, next %q; want %d and no next", len(whole), next, tc.want)
			}
			for i := 1; i < len(whole); i++ {
				a, b := whole[i-1], whole[i]
				if a.LastSeen.Before(b.LastSeen) || a.LastSeen.Equal(b.LastSeen) && a.ID == b.ID {
					t.Fatalf("order broken at %d: %s %s then %s %s", i, a.LastSeen, a.ID, b.LastSeen, b.ID)
				}
			}
			for _, size := range []int{1, 4, 5, tc.want} {
				var paged []string
				f := tc.filter
				f.Limit = size
				for pages := 0; ; pages++ {
					if pages > tc.want+1 {
						t.Fatalf("limit %d: pagination does not end", size)
					}
					page, next, err := db.ListIncidents(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > size {
						t.Fatalf("limit %d: page of %d", size, len(page))
					}
					paged = append(paged, ids(page)...)
					if next == "" {
						break
					}
					f.After = next
				}
				if !slices.Equal(paged, ids(whole)) {
					t.Errorf("limit %d: pages give %d ids %v\nwant %d %v", size, len(paged), paged, len(whole), ids(whole))
				}
			}
		})
	}
}

func TestGetIncident(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	d, err := db.GetIncident(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incident.Version != 2 || len(d.Alerts) != 2 || len(d.Events) != 3 || len(d.Plans) != 2 {
		t.Fatalf("got version %d, %d alerts, %d events, %d plans; want 2, 2, 3, 2", d.Incident.Version, len(d.Alerts), len(d.Events), len(d.Plans))
	}
	if !slices.Equal(d.MissingEventIDs, []string{fixture.MissingEvent}) {
		t.Errorf("missing events %v, want %v", d.MissingEventIDs, []string{fixture.MissingEvent})
	}
	for _, p := range d.Plans {
		for i, s := range p.Steps {
			if s.Index != i {
				t.Errorf("plan %s step %d has index %d", p.ID, i, s.Index)
			}
		}
	}
	upper, err := db.GetIncident(ctx, "  "+fixture.IncidentSIS)
	var bad query.InvalidParams
	if !errors.As(err, &bad) {
		t.Errorf("id with spaces: got %v (%d alerts), want InvalidParams", err, len(upper.Alerts))
	}
	if _, err := db.GetIncident(ctx, event.NewID("no such incident")); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}

func TestGetPlans(t *testing.T) {
	db := demoDB(t)
	ctx := context.Background()
	d, err := db.GetIncident(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.GetPlans(ctx, strings.ToUpper(fixture.IncidentSIS))
	if err != nil {
		t.Fatal(err)
	}
	if p.IncidentID != fixture.IncidentSIS || p.Site != fixture.Site || p.PlansTruncated != d.PlansTruncated {
		t.Errorf("got incident %s site %s truncated %v", p.IncidentID, p.Site, p.PlansTruncated)
	}
	if !reflect.DeepEqual(p.Plans, d.Plans) {
		t.Errorf("GetPlans gives %+v\nGetIncident gives %+v", p.Plans, d.Plans)
	}
	var bad query.InvalidParams
	if _, err := db.GetPlans(ctx, "x' OR 1=1"); !errors.As(err, &bad) {
		t.Errorf("bad id: got %v, want InvalidParams", err)
	}
	if _, err := db.GetPlans(ctx, event.NewID("no such incident")); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}

func TestGetIncidentCaps(t *testing.T) {
	conn := fixture.Open(t)
	ctx := context.Background()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{MaxAlerts: 1, MaxEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.GetIncident(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != 1 || !d.AlertsTruncated || len(d.Events) != 1 || !d.EventsTruncated {
		t.Errorf("got %d alerts (truncated %v), %d events (truncated %v); want 1 true, 1 true", len(d.Alerts), d.AlertsTruncated, len(d.Events), d.EventsTruncated)
	}
}
