package console_test

import (
	"testing"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/event"
)

func init() {
	scopeCases = append(scopeCases,
		scopeCase{route: "GET /api/alerts", own: "/api/alerts?site=demo-plant", other: "/api/alerts?site=other-plant", otherCode: 200, list: "alerts", ownNonEmpty: true},
		scopeCase{route: "GET /api/incidents/{id}/alerts", own: "/api/incidents/" + fixture.IncidentSIS + "/alerts", other: "/api/incidents/" + incidentOther + "/alerts", otherCode: 404},
	)
}

// TestAlertRoutes checks the answers of the alert routes against goldens.
func TestAlertRoutes(t *testing.T) {
	h := authService(t, console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5}).Handler()
	for _, tc := range []struct{ name, path, token string }{
		{"alerts-all", "/api/alerts", adminAllToken},
		{"alerts-filters", "/api/alerts?site=demo-plant&zone=demo-plant/safety&rule=ews-direct-to-sis&severity=high&since=2026-11-26T10:00:00Z&until=2026-11-26T11:00:00Z", roleToken(console.RoleAnalyst)},
		{"alerts-page-1", "/api/alerts?limit=1", roleToken(console.RoleOperator)},
		{"alerts-bad", "/api/alerts?severity=urgent&limit=0&cursor=x&q=text", adminAllToken},
		{"incident-alerts", "/api/incidents/" + fixture.IncidentSIS + "/alerts?severity=critical", roleToken(console.RoleAuditor)},
		{"incident-alerts-site-param", "/api/incidents/" + fixture.IncidentSIS + "/alerts?site=other-plant", adminAllToken},
		{"incident-alerts-bad-id", "/api/incidents/nope/alerts", adminAllToken},
		{"incident-alerts-unknown", "/api/incidents/" + event.NewID("no such incident") + "/alerts", adminAllToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, "alerts/"+tc.name, get(h, tc.path, tc.token))
		})
	}
}
