package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

func TestTriageJoin(t *testing.T) {
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
	at := fixture.Base.Add(5 * time.Hour)
	rev := func(id, site string, v uint64, status, assignee string) event.Triage {
		tr := event.NewTriage(id, site)
		tr.Version, tr.Status, tr.Assignee, tr.UpdatedAt, tr.UpdatedBy = v, status, assignee, at.Add(time.Duration(v)*time.Minute), "alice"
		for i := uint64(1); i <= v; i++ {
			tr.History = append(tr.History, event.TriageChange{Version: i, At: tr.UpdatedAt, Actor: "alice", Role: "analyst", Field: "status", To: status})
		}
		return tr
	}
	// Two revisions of the SIS incident (the older must not win), one of
	// the late incident; the other incidents were never triaged.
	revs := []event.Triage{
		rev(fixture.IncidentSIS, fixture.Site, 2, event.StatusContained, "bob"),
		rev(fixture.IncidentSIS, fixture.Site, 1, event.StatusAcknowledged, ""),
		rev(fixture.IncidentLate, fixture.Site, 1, event.StatusClosed, "carol"),
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO incident_triage (site, incident_id, version, status, assignee, updated_at, updated_by, doc)")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range revs {
		doc, _ := json.Marshal(tr)
		if err := b.Append(tr.Site, tr.IncidentID, tr.Version, tr.Status, tr.Assignee, tr.UpdatedAt, tr.UpdatedBy, string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}

	all, _, err := db.ListIncidents(ctx, query.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("%d incidents listed, want 6 (the join must not duplicate or drop any)", len(all))
	}
	for _, s := range all {
		var want query.TriageSummary
		switch s.ID {
		case fixture.IncidentSIS:
			want = query.TriageSummary{Version: 2, Status: event.StatusContained, Assignee: "bob"}
		case fixture.IncidentLate:
			want = query.TriageSummary{Version: 1, Status: event.StatusClosed, Assignee: "carol"}
		default:
			// Never triaged: the correlator's status, version 0.
			want = query.TriageSummary{Status: s.Status}
		}
		if s.Triage != want || s.Status != want.Status {
			t.Errorf("incident %s: status %s triage %+v, want %+v", s.ID, s.Status, s.Triage, want)
		}
	}

	for _, tc := range []struct {
		name   string
		f      query.Filter
		want   []string // ids that must be listed
		absent []string // ids that must not
	}{
		{"triage status", query.Filter{Status: []string{event.StatusContained}}, []string{fixture.IncidentSIS}, []string{fixture.IncidentLate}},
		{"correlator status ignored once triaged", query.Filter{Status: []string{event.StatusInvestigating, event.StatusAcknowledged}}, nil, []string{fixture.IncidentSIS, fixture.IncidentLate}},
		{"closed", query.Filter{Status: []string{event.StatusClosed}, Site: fixture.Site}, []string{fixture.IncidentLate}, []string{fixture.IncidentSIS}},
		{"other site scope", query.Filter{Status: []string{event.StatusContained}, Sites: []string{"other-plant"}}, nil, []string{fixture.IncidentSIS}},
		{"assignee", query.Filter{Assignee: "bob"}, []string{fixture.IncidentSIS}, []string{fixture.IncidentLate}},
		{"assignee and status", query.Filter{Assignee: "carol", Status: []string{event.StatusClosed}}, []string{fixture.IncidentLate}, []string{fixture.IncidentSIS}},
		{"nobody's", query.Filter{Assignee: "dave"}, nil, []string{fixture.IncidentSIS, fixture.IncidentLate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, _, err := db.ListIncidents(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(list)
			for _, id := range tc.want {
				if !slices.Contains(got, id) {
					t.Errorf("%s not listed: %v", id, got)
				}
			}
			for _, id := range tc.absent {
				if slices.Contains(got, id) {
					t.Errorf("%s listed: %v", id, got)
				}
			}
			for _, s := range list {
				if len(tc.f.Status) > 0 && !slices.Contains(tc.f.Status, s.Status) {
					t.Errorf("%s listed with status %s", s.ID, s.Status)
				}
			}
		})
	}

	d, err := db.GetIncident(ctx, fixture.IncidentSIS)
	if err != nil {
		t.Fatal(err)
	}
	if d.Triage.Version != 2 || d.Triage.Assignee != "bob" || len(d.Triage.History) != 2 || d.Incident.Status != event.StatusContained {
		t.Errorf("detail triage %+v, incident status %s; want version 2 contained/bob", d.Triage, d.Incident.Status)
	}
	tr, err := db.GetTriage(ctx, "other-plant", fixture.IncidentSIS)
	if err != nil || tr.Version != 0 || tr.Status != event.StatusNew || tr.History == nil {
		t.Errorf("triage of the SIS incident under another site = %+v, %v; want version 0 new with empty history", tr, err)
	}
	if site, err := db.IncidentSite(ctx, fixture.IncidentLate); err != nil || site != fixture.Site {
		t.Errorf("IncidentSite = %q, %v", site, err)
	}
	if _, err := db.IncidentSite(ctx, event.NewID("no such incident")); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("IncidentSite of an unknown id: %v, want ErrNotFound", err)
	}
	var invalid query.InvalidParams
	if _, err := db.IncidentSite(ctx, "x"); !errors.As(err, &invalid) {
		t.Errorf("IncidentSite of a malformed id: %v, want InvalidParams", err)
	}
}
