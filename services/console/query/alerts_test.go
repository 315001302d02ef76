package query_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

// alertDB loads the demo dataset plus extra alerts: six more of demo-plant
// (rules, zones and severities varied, one millisecond apart pairs to
// exercise the keyset tie-break) and one of other-plant.
func alertDB(t *testing.T) (*query.DB, []event.Alert) {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := fixture.Demo()
	sevs := []string{event.SevLow, event.SevMedium, event.SevHigh, event.SevInfo, event.SevCritical, event.SevMedium}
	for i := range 6 {
		zone := fixture.Site + "/control"
		if i%2 == 1 {
			zone = fixture.Site + "/dmz"
		}
		d.Alerts = append(d.Alerts, event.Alert{
			ID: event.NewID("extra-alert", fmt.Sprint(i)), Site: fixture.Site,
			// Pairs share a time: the id orders them.
			Time: fixture.Base.Add(time.Duration(2+i/2) * time.Hour).Add(7 * time.Millisecond), CreatedAt: fixture.Base.Add(3 * time.Hour),
			RuleID: fmt.Sprintf("rule-%d", i%3), RuleTitle: "extra", Severity: sevs[i], IncidentKey: "k", IncidentID: fixture.IncidentLate,
			Src: event.Endpoint{IP: "10.0.0.1", Zone: zone, Purdue: -1}, Dst: event.Endpoint{IP: "10.0.0.2", Zone: fixture.Site + "/ops", Purdue: -1},
			EventIDs: []string{}, Techniques: []string{},
		})
	}
	other := d.Alerts[0]
	other.ID, other.Site, other.IncidentID = event.NewID("alert", "other-plant"), "other-plant", event.NewID("incident", "other-site")
	d.Alerts = append(d.Alerts, other)
	if err := fixture.Load(ctx, conn, d); err != nil {
		t.Fatal(err)
	}
	db, err := query.New(conn, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, d.Alerts
}

func alertIDs(as []event.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// expectAlerts filters and orders want like ListAlerts should: distinct
// ids, newest first, then id.
func expectAlerts(all []event.Alert, keep func(event.Alert) bool) []string {
	seen := map[string]bool{}
	var out []event.Alert
	for _, a := range all {
		if !seen[a.ID] && keep(a) {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b event.Alert) int {
		if c := b.Time.Truncate(time.Millisecond).Compare(a.Time.Truncate(time.Millisecond)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return alertIDs(out)
}

func TestListAlerts(t *testing.T) {
	db, all := alertDB(t)
	ctx := context.Background()
	demo := func(a event.Alert) bool { return a.Site == fixture.Site }
	for _, tc := range []struct {
		name string
		f    query.AlertFilter
		keep func(event.Alert) bool
	}{
		{"all", query.AlertFilter{}, func(event.Alert) bool { return true }},
		{"site", query.AlertFilter{Site: fixture.Site}, demo},
		{"scope", query.AlertFilter{Sites: []string{"other-plant"}}, func(a event.Alert) bool { return a.Site == "other-plant" }},
		{"empty scope", query.AlertFilter{Sites: []string{}}, func(event.Alert) bool { return false }},
		{"site outside scope", query.AlertFilter{Site: fixture.Site, Sites: []string{"other-plant"}}, func(event.Alert) bool { return false }},
		{"zone src or dst", query.AlertFilter{Zone: fixture.Site + "/dmz"}, func(a event.Alert) bool { return a.Src.Zone == fixture.Site+"/dmz" }},
		{"zone dst", query.AlertFilter{Zone: fixture.Site + "/ops"}, func(a event.Alert) bool { return a.Dst.Zone == fixture.Site+"/ops" }},
		{"rule", query.AlertFilter{Rule: "rule-1"}, func(a event.Alert) bool { return a.RuleID == "rule-1" }},
		{"severity", query.AlertFilter{Severity: event.SevHigh}, func(a event.Alert) bool { return event.SeverityRank(a.Severity) >= event.SeverityRank(event.SevHigh) }},
		{"incident", query.AlertFilter{IncidentID: strings.ToUpper(fixture.IncidentSIS)}, func(a event.Alert) bool { return a.IncidentID == fixture.IncidentSIS }},
		{"time range", query.AlertFilter{Since: fixture.Base.Add(3*time.Hour + 7*time.Millisecond), Until: fixture.Base.Add(4*time.Hour + 7*time.Millisecond)},
			func(a event.Alert) bool {
				return !a.Time.Before(fixture.Base.Add(3*time.Hour+7*time.Millisecond)) && a.Time.Before(fixture.Base.Add(4*time.Hour+7*time.Millisecond))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := expectAlerts(all, tc.keep)
			got, next, err := db.ListAlerts(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Errorf("next cursor on a single page")
			}
			if !slices.Equal(alertIDs(got), want) && !(len(want) == 0 && len(got) == 0) {
				t.Errorf("got %v\nwant %v", alertIDs(got), want)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		want := expectAlerts(all, demo)
		var got []string
		f := query.AlertFilter{Site: fixture.Site, Limit: 2}
		for page := 0; ; page++ {
			if page > len(want) {
				t.Fatal("paging does not end")
			}
			list, next, err := db.ListAlerts(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, alertIDs(list)...)
			if next == "" {
				break
			}
			f.After = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages %v\nwant  %v", got, want)
		}
	})
	t.Run("content", func(t *testing.T) {
		list, _, err := db.ListAlerts(ctx, query.AlertFilter{IncidentID: fixture.IncidentSIS})
		if err != nil {
			t.Fatal(err)
		}
		var a1 *event.Alert
		for i := range list {
			if list[i].ID == event.NewID("alert", "1") {
				a1 = &list[i]
			}
		}
		if a1 == nil || a1.RuleID != "safety-write-outside-conduit" || a1.Fields["op"] != "write" || !a1.Dst.Safety || len(a1.EventIDs) != 2 {
			t.Errorf("alert 1 = %+v", a1)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		_, _, err := db.ListAlerts(ctx, query.AlertFilter{Severity: "urgent", After: "i1.xyz", IncidentID: "nope", Limit: query.MaxLimit + 1,
			Since: fixture.Base, Until: fixture.Base, Zone: strings.Repeat("z", query.MaxTextLen+1)})
		var invalid query.InvalidParams
		if !errors.As(err, &invalid) {
			t.Fatalf("err = %v, want InvalidParams", err)
		}
		var names []string
		for _, p := range invalid {
			names = append(names, p.Param)
		}
		if want := []string{"zone", "id", "severity", "until", "limit", "cursor"}; !slices.Equal(names, want) {
			t.Errorf("invalid params %v, want %v", names, want)
		}
	})
}

func TestAlertCursor(t *testing.T) {
	c := query.AlertCursor{TimeMs: 1764147600007, ID: fixture.IncidentSIS}
	got, err := query.DecodeAlertCursor(c.Encode())
	if err != nil || got != c {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "a1.", "a1.!!", query.Cursor{LastSeenMs: 1, ID: fixture.IncidentSIS}.Encode(), "a1." + strings.Repeat("A", 200)} {
		if _, err := query.DecodeAlertCursor(bad); err == nil {
			t.Errorf("DecodeAlertCursor(%q) accepted", bad)
		}
	}
}
