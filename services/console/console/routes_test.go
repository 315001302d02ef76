package console_test

import (
	"net/http"
	"testing"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/event"
)

// TestReadRoutes checks the answers of the read routes, as the all-sites
// admin and as an analyst of the demo plant, against goldens.
func TestReadRoutes(t *testing.T) {
	svc := authService(t, console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5})
	h := svc.Handler()
	analyst := roleToken(console.RoleAnalyst)
	cursors := map[string]string{}
	for _, tc := range []struct {
		name, path, token, cursorFrom string
	}{
		{name: "events-all", path: "/api/events"},
		{name: "events-analyst", path: "/api/events", token: analyst},
		{name: "events-zone", path: "/api/events?site=demo-plant&zone=demo-plant/safety"},
		{name: "events-filters", path: "/api/events?since=2026-11-26T10:00:00Z&until=2026-11-26T11:00:00Z&operation=program_download&q=DOWNLOAD%20started"},
		{name: "events-page-1", path: "/api/events?limit=2"},
		{name: "events-page-2", path: "/api/events?limit=2", cursorFrom: "events-page-1"},
		{name: "events-bad", path: "/api/events?limit=0&since=now&cursor=x&sort=time"},
		{name: "events-bad-until", path: "/api/events?since=2026-11-26T10:00:00Z&until=2026-11-26T09:00:00Z"},
		{name: "stats-events", path: "/api/stats/events"},
		{name: "stats-events-analyst", path: "/api/stats/events?site=demo-plant&limit=2", token: analyst},
		{name: "stats-events-bad", path: "/api/stats/events?limit=x&site=a&site=b"},
		{name: "stats-talkers", path: "/api/stats/talkers?since=2026-11-26T00:00:00Z"},
		{name: "stats-talkers-bad", path: "/api/stats/talkers?q=x"},
		{name: "plans-sis", path: "/api/incidents/" + fixture.IncidentSIS + "/plans"},
		{name: "plans-other-admin", path: "/api/incidents/" + incidentOther + "/plans"},
		{name: "plans-not-found", path: "/api/incidents/" + event.NewID("no such incident") + "/plans"},
		{name: "plans-bad-id", path: "/api/incidents/not-a-uuid/plans"},
		{name: "plans-query-param", path: "/api/incidents/" + fixture.IncidentSIS + "/plans?all=1"},
		{name: "sites-admin", path: "/api/sites"},
		{name: "sites-analyst", path: "/api/sites", token: analyst},
		{name: "site-demo", path: "/api/sites/demo-plant"},
		{name: "site-unknown", path: "/api/sites/nowhere"},
		{name: "site-query-param", path: "/api/sites/demo-plant?x=1"},
		{name: "site-zones", path: "/api/sites/demo-plant/zones"},
		{name: "site-conduits", path: "/api/sites/demo-plant/conduits"},
		{name: "site-assets", path: "/api/sites/other-plant/assets"},
		{name: "site-windows", path: "/api/sites/demo-plant/windows"},
		{name: "site-windows-empty", path: "/api/sites/other-plant/windows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.cursorFrom != "" {
				c := cursors[tc.cursorFrom]
				if c == "" {
					t.Fatalf("case %s gave no next_cursor", tc.cursorFrom)
				}
				path += "&cursor=" + c
			}
			token := tc.token
			if token == "" {
				token = adminAllToken
			}
			rec := get(h, path, token)
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			_ = jsonUnmarshal(rec.Body.Bytes(), &page)
			cursors[tc.name] = page.NextCursor
			checkGolden(t, "routes/"+tc.name, rec)
		})
	}
	t.Run("method not allowed", func(t *testing.T) {
		for _, path := range []string{"/api/events", "/api/sites/demo-plant/zones", "/api/incidents/" + fixture.IncidentSIS + "/plans"} {
			req, _ := http.NewRequest(http.MethodPost, path, nil)
			req.Header.Set("Authorization", "Bearer "+adminAllToken)
			rec := serve(h, req)
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("POST %s: %d allow %q", path, rec.Code, rec.Header().Get("Allow"))
			}
		}
	})
}
