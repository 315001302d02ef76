package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

var (
	repIncidentRogue = event.NewID("incident", "rogue")
	repIncidentRDP   = event.NewID("incident", "rdp-brute")
)

// repNow is the time the report tests evaluate the NIS2 clocks at.
var repNow = fixture.Base.Add(30 * time.Hour)

func repTime(t time.Time) *time.Time { return &t }

// reportTriage: the SIS incident is significant (early warning made on
// time), the rogue device incident significant and never reported (early
// warning overdue at repNow), the RDP incident triaged and resolved,
// the other site's incident significant.
func reportTriage() []event.Triage {
	b := fixture.Base
	sis := event.Triage{IncidentID: fixture.IncidentSIS, Site: fixture.Site, Version: 3, Status: event.StatusContained, Assignee: "alice",
		ISMS: event.ISMSRecord{Classification: "incident", Category: "unauthorized_change", Significant: true,
			BecameAwareAt: repTime(b.Add(80 * time.Minute)), EarlyWarningAt: repTime(b.Add(20 * time.Hour)),
			Impact: event.Impact{Integrity: "high", Safety: "medium"}, Evidence: []string{"pcap://sis-01/1"}},
		History: []event.TriageChange{
			{Version: 1, At: b.Add(70 * time.Minute), Actor: "alice", Role: "analyst", Field: "status", From: "new", To: "acknowledged"},
			{Version: 2, At: b.Add(80 * time.Minute), Actor: "isabel", Role: "isms_owner", Field: "isms.classification", To: "incident"},
			{Version: 3, At: b.Add(3 * time.Hour), Actor: "alice", Role: "analyst", Field: "status", From: "acknowledged", To: "contained"}},
		UpdatedAt: b.Add(3 * time.Hour), UpdatedBy: "alice"}
	rogue := event.Triage{IncidentID: repIncidentRogue, Site: fixture.Site, Version: 1, Status: event.StatusAcknowledged,
		ISMS:    event.ISMSRecord{Significant: true, BecameAwareAt: repTime(b.Add(2 * time.Hour))},
		History: []event.TriageChange{{Version: 1, At: b.Add(2 * time.Hour), Actor: "isabel", Role: "isms_owner", Field: "isms.significant", From: "false", To: "true"}}}
	rdp := event.Triage{IncidentID: repIncidentRDP, Site: fixture.Site, Version: 2, Status: event.StatusResolved,
		History: []event.TriageChange{
			{Version: 1, At: b.Add(-50 * time.Minute), Actor: "alice", Role: "analyst", Field: "status", From: "new", To: "acknowledged"},
			{Version: 2, At: b.Add(time.Hour), Actor: "alice", Role: "analyst", Field: "status", From: "acknowledged", To: "resolved"}}}
	other := event.Triage{IncidentID: incidentOther, Site: otherSite, Version: 1, Status: event.StatusAcknowledged,
		ISMS: event.ISMSRecord{Significant: true, BecameAwareAt: repTime(b.Add(-100 * time.Hour))}}
	return []event.Triage{sis, rogue, rdp, other}
}

// storeReportData stores triage rows and an approval audit record of the
// SIS incident's first plan the way the store writes them.
func storeReportData(t *testing.T, conn driver.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, `INSERT INTO incident_triage (site, incident_id, version, status, assignee, updated_at, significant, doc)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range reportTriage() {
		doc, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		sig := uint8(0)
		if tr.ISMS.Significant {
			sig = 1
		}
		if err := b.Append(tr.Site, tr.IncidentID, tr.Version, tr.Status, tr.Assignee, tr.UpdatedAt, sig, string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	a, err := conn.PrepareBatch(ctx, `INSERT INTO audit (site, seq, id, time, time_ns, actor, actor_role, kind, what, why, result,
		incident_id, incident_version, plan_id, step_id, inputs_hash, prev_hash, hash)`)
	if err != nil {
		t.Fatal(err)
	}
	at := fixture.Base.Add(75 * time.Minute)
	if err := a.Append(fixture.Site, uint64(7), event.NewID("audit", "7"), at, uint32(0), "sam", "safety_engineer", report.AuditApproval,
		"approve isolate-conduit", "ok", event.VerdictApprove, fixture.IncidentSIS, uint64(1), event.NewID("plan", fixture.IncidentSIS, "1"),
		"isolate-conduit", "", "", "h7"); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(); err != nil {
		t.Fatal(err)
	}
}

// reportService serves the demo fixture with the report data, a token per
// role scoped to demo-plant and an admin token for all sites, with the
// report clock at repNow.
func reportService(t *testing.T) http.Handler {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	storeReportData(t, conn)
	cfg := console.Config{
		Addr: "0.0.0.0:0", Sites: []string{"testdata/sites"}, RateLimit: console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5},
		ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}},
	}
	for _, r := range console.Roles {
		cfg.Tokens = append(cfg.Tokens, console.TokenConfig{Token: roleToken(r), User: "user-" + r, Roles: []string{r}, Sites: []string{fixture.Site}})
	}
	cfg.Tokens = append(cfg.Tokens, console.TokenConfig{Token: adminAllToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}})
	svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(console.SetReportClock(func() time.Time { return repNow }))
	return svc.Handler()
}

// TestReportRoutes checks the report routes' answers against goldens.
func TestReportRoutes(t *testing.T) {
	h := reportService(t)
	isms := roleToken(console.RoleISMSOwner)
	for _, tc := range []struct {
		name, path, token string
	}{
		{"report-sis", "/api/incidents/" + fixture.IncidentSIS + "/report", ""},
		{"report-sis-json", "/api/incidents/" + fixture.IncidentSIS + "/report?format=json", isms},
		{"report-late-untriaged", "/api/incidents/" + fixture.IncidentLate + "/report", isms},
		{"report-other-site-admin", "/api/incidents/" + incidentOther + "/report", ""},
		{"report-other-site-isms", "/api/incidents/" + incidentOther + "/report", isms},
		{"report-not-found", "/api/incidents/" + event.NewID("no such incident") + "/report", isms},
		{"report-bad-id", "/api/incidents/x%27%29%20OR%201%3D1%20--/report", isms},
		{"report-bad-format", "/api/incidents/" + fixture.IncidentSIS + "/report?format=pdf&x=1", isms},
		{"report-repeated-format", "/api/incidents/" + fixture.IncidentSIS + "/report?format=json&format=markdown", isms},
		{"nis2-all-sites", "/api/reports/nis2", ""},
		{"nis2-isms", "/api/reports/nis2", isms},
		{"nis2-site", "/api/reports/nis2?site=demo-plant", isms},
		{"nis2-other-site", "/api/reports/nis2?site=other-plant", isms},
		{"nis2-unknown-param", "/api/reports/nis2?since=2026-11-26T00:00:00Z", isms},
		{"summary-day", "/api/reports/summary?site=demo-plant&from=2026-11-26T00:00:00Z&to=2026-11-27T12:00:00Z", isms},
		{"summary-offset", "/api/reports/summary?site=demo-plant&from=2026-11-26T11:00:00%2B01:00&to=2026-11-26T11:30:00Z", isms},
		{"summary-other-site", "/api/reports/summary?site=other-plant&from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z", isms},
		{"summary-other-site-admin", "/api/reports/summary?site=other-plant&from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z", ""},
		{"summary-missing", "/api/reports/summary", isms},
		{"summary-bad", "/api/reports/summary?site=demo-plant&from=yesterday&to=2026-11-26T00:00:00Z", isms},
		{"summary-reversed", "/api/reports/summary?site=demo-plant&from=2026-11-27T00:00:00Z&to=2026-11-26T00:00:00Z", isms},
		{"summary-too-long", "/api/reports/summary?site=demo-plant&from=2025-01-01T00:00:00Z&to=2026-11-26T00:00:00Z", isms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = adminAllToken
			}
			checkGolden(t, "reports/"+tc.name, get(h, tc.path, token))
		})
	}
}

// TestReportMarkdown checks the Markdown download: headers and body.
func TestReportMarkdown(t *testing.T) {
	h := reportService(t)
	rec := get(h, "/api/incidents/"+fixture.IncidentSIS+"/report?format=markdown", roleToken(console.RoleISMSOwner))
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if cd, want := rec.Header().Get("Content-Disposition"), `attachment; filename="incident-`+fixture.IncidentSIS+`-report.md"`; cd != want {
		t.Errorf("content disposition %q, want %q", cd, want)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("security headers missing: %v", rec.Header())
	}
	path := filepath.Join("testdata", "reports", "report-sis.md")
	if *update {
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("markdown differs from %s (run go test -update after checking)\ngot:\n%s", path, rec.Body)
	}
	// The JSON and the Markdown are the same report.
	var r report.Report
	if err := json.Unmarshal(get(h, "/api/incidents/"+fixture.IncidentSIS+"/report", roleToken(console.RoleISMSOwner)).Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Markdown(), rec.Body.Bytes()) {
		t.Error("the markdown download differs from the JSON report rendered as markdown")
	}
}

// reportRoleCases are the report routes with an object of the callers'
// site (demo-plant) and one of another site.
var reportRoleCases = []struct {
	route, own, other string
}{
	{"GET /api/incidents/{id}/report", "/api/incidents/" + fixture.IncidentSIS + "/report", "/api/incidents/" + incidentOther + "/report"},
	{"GET /api/incidents/{id}/report", "/api/incidents/" + fixture.IncidentSIS + "/report?format=markdown", "/api/incidents/" + incidentOther + "/report?format=markdown"},
	{"GET /api/reports/nis2", "/api/reports/nis2?site=demo-plant", "/api/reports/nis2?site=other-plant"},
	{"GET /api/reports/summary", "/api/reports/summary?site=demo-plant&from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z",
		"/api/reports/summary?site=other-plant&from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z"},
}

func init() {
	coveredElsewhere = append(coveredElsewhere,
		"GET /api/incidents/{id}/report", "GET /api/reports/nis2", "GET /api/reports/summary")
}

// TestReportAuthorization checks every role against every report route
// for its own site and another site.
func TestReportAuthorization(t *testing.T) {
	h := reportService(t)
	allowed := []string{console.RoleAnalyst, console.RoleManager, console.RoleISMSOwner, console.RoleAdmin, console.RoleAuditor}
	for _, role := range console.Roles {
		for _, c := range reportRoleCases {
			ok := slices.Contains(allowed, role)
			t.Run(role+"/"+c.own, func(t *testing.T) {
				rec := get(h, c.own, roleToken(role))
				want := http.StatusForbidden
				if ok {
					want = http.StatusOK
				}
				if rec.Code != want {
					t.Fatalf("GET %s: %d %s, want %d", c.own, rec.Code, rec.Body, want)
				}
				if ok && strings.Contains(rec.Body.String(), otherSite) {
					t.Errorf("GET %s shows %s: %s", c.own, otherSite, rec.Body)
				}
			})
			t.Run(role+"/"+c.other, func(t *testing.T) {
				rec := get(h, c.other, roleToken(role))
				want := http.StatusForbidden
				if ok {
					want = http.StatusNotFound
				}
				if rec.Code != want || rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Fatalf("GET %s: %d %s, want a %d problem", c.other, rec.Code, rec.Body, want)
				}
				if !ok {
					return
				}
				// The other site's object is answered like one that does
				// not exist.
				missing := strings.NewReplacer(otherSite, "no-such-plant", incidentOther, event.NewID("no such incident")).Replace(c.other)
				m := get(h, missing, roleToken(role))
				var a, b console.Problem
				if json.Unmarshal(rec.Body.Bytes(), &a) != nil || json.Unmarshal(m.Body.Bytes(), &b) != nil || m.Code != rec.Code || a.Detail != b.Detail {
					t.Errorf("other site: %d %s; missing: %d %s", rec.Code, rec.Body, m.Code, m.Body)
				}
			})
		}
	}
	t.Run("nis2 without a site is scoped", func(t *testing.T) {
		var o report.Overview
		rec := get(h, "/api/reports/nis2", roleToken(console.RoleAuditor))
		if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if len(o.Incidents) != 2 {
			t.Errorf("%d incidents, want demo-plant's 2", len(o.Incidents))
		}
		for _, oi := range o.Incidents {
			if oi.Site != fixture.Site {
				t.Errorf("auditor of %s sees %s's incident %s", fixture.Site, oi.Site, oi.IncidentID)
			}
		}
		all := get(h, "/api/reports/nis2", adminAllToken)
		if err := json.Unmarshal(all.Body.Bytes(), &o); err != nil || len(o.Incidents) != 3 || o.Overdue != 2 {
			t.Errorf("all-sites admin: %d %s, want 3 incidents, 2 overdue", all.Code, all.Body)
		}
	})
}
