package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

// incidentOther is the demo fixture's incident of other-plant.
var incidentOther = event.NewID("incident", "other-site")

const otherSite = "other-plant"

// roleToken is the test token of a role scoped to the demo plant.
func roleToken(role string) string { return "token-of-" + role + "-0123456789" }

const (
	adminAllToken = "token-of-admin-all-sites-0123"
	noSitesToken  = "token-without-own-sites-01234"
)

// authService serves the demo fixture (plus one other-plant event) with a
// token per role scoped to demo-plant, an admin token for all sites and a
// token scoped to a site without data.
func authService(t *testing.T, rate console.RateLimitConfig) *console.Service {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other := fixture.Demo().Events[0]
	other.ID, other.Site = event.NewID("event", "other-plant"), otherSite
	d := fixture.Demo()
	d.Events = append(d.Events, other)
	if err := fixture.Load(ctx, conn, d); err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{
		Addr: "0.0.0.0:0", Sites: []string{"testdata/sites"}, RateLimit: rate,
		ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}},
	}
	for _, r := range console.Roles {
		cfg.Tokens = append(cfg.Tokens, console.TokenConfig{Token: roleToken(r), User: "user-" + r, Roles: []string{r}, Sites: []string{fixture.Site}})
	}
	cfg.Tokens = append(cfg.Tokens,
		console.TokenConfig{Token: adminAllToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}},
		console.TokenConfig{Token: noSitesToken, User: "nobody", Roles: []string{console.RoleAnalyst}, Sites: []string{"empty-plant"}})
	svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func get(h http.Handler, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// sitesOf collects the "site" members of the objects of a JSON list.
func sitesOf(t *testing.T, body []byte, list string) []string {
	t.Helper()
	var m map[string][]map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	var out []string
	for _, o := range m[list] {
		s, _ := o["site"].(string)
		if s == "" {
			s, _ = o["id"].(string)
		}
		out = append(out, s)
	}
	return out
}

// scopeCase is one route with an object of the caller's site and one of
// another site; check verifies a 200 body.
type scopeCase struct {
	route      string // the pattern, for the coverage check
	own, other string
	// otherCode is the answer for the other site: 404 for detail routes,
	// 200 with nothing of it for lists.
	otherCode int
	// list names the JSON list whose objects carry a site (lists only).
	list string
	// ownNonEmpty: the own-site list must not be empty.
	ownNonEmpty bool
}

var scopeCases = []scopeCase{
	{route: "GET /api/incidents", own: "/api/incidents?site=demo-plant", other: "/api/incidents?site=other-plant", otherCode: 200, list: "incidents", ownNonEmpty: true},
	{route: "GET /api/incidents/{id}", own: "/api/incidents/" + fixture.IncidentSIS, other: "/api/incidents/" + incidentOther, otherCode: 404},
	{route: "GET /api/incidents/{id}/plans", own: "/api/incidents/" + fixture.IncidentSIS + "/plans", other: "/api/incidents/" + incidentOther + "/plans", otherCode: 404},
	{route: "GET /api/events", own: "/api/events?site=demo-plant", other: "/api/events?site=other-plant", otherCode: 200, list: "events", ownNonEmpty: true},
	{route: "GET /api/stats/events", own: "/api/stats/events?site=demo-plant", other: "/api/stats/events?site=other-plant", otherCode: 200, list: "counts", ownNonEmpty: true},
	{route: "GET /api/stats/talkers", own: "/api/stats/talkers?site=demo-plant", other: "/api/stats/talkers?site=other-plant", otherCode: 200, list: "talkers"},
	{route: "GET /api/sites", own: "/api/sites", other: "/api/sites", otherCode: 200, list: "sites", ownNonEmpty: true},
	{route: "GET /api/sites/{site}", own: "/api/sites/demo-plant", other: "/api/sites/other-plant", otherCode: 404},
	{route: "GET /api/sites/{site}/zones", own: "/api/sites/demo-plant/zones", other: "/api/sites/other-plant/zones", otherCode: 404},
	{route: "GET /api/sites/{site}/conduits", own: "/api/sites/demo-plant/conduits", other: "/api/sites/other-plant/conduits", otherCode: 404},
	{route: "GET /api/sites/{site}/assets", own: "/api/sites/demo-plant/assets", other: "/api/sites/other-plant/assets", otherCode: 404},
	{route: "GET /api/sites/{site}/windows", own: "/api/sites/demo-plant/windows", other: "/api/sites/other-plant/windows", otherCode: 404},
	{route: "GET /api/openapi.json", own: "/api/openapi.json", other: "/api/openapi.json", otherCode: 200},
}

// coveredElsewhere lists the routes whose role and scope table tests live
// in other files (the write routes: triage_test.go); they append in init.
var coveredElsewhere []string

// TestAuthorization checks every role against every route for an object of
// its own site and one of another site, and the 401 answers.
func TestAuthorization(t *testing.T) {
	svc := authService(t, console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5})
	h := svc.Handler()

	t.Run("every route is covered", func(t *testing.T) {
		var covered []string
		for _, c := range scopeCases {
			covered = append(covered, c.route)
		}
		covered = append(covered, coveredElsewhere...)
		for _, r := range svc.Routes() {
			if !slices.Contains(covered, r) && r != "GET /healthz" && r != "GET /metrics" {
				t.Errorf("route %s has no scope case", r)
			}
		}
	})

	for _, role := range console.Roles {
		for _, c := range scopeCases {
			t.Run(role+"/"+c.route+"/own", func(t *testing.T) {
				rec := get(h, c.own, roleToken(role))
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", c.own, rec.Code, rec.Body)
				}
				if c.list == "" {
					return
				}
				sites := sitesOf(t, rec.Body.Bytes(), c.list)
				if c.ownNonEmpty && len(sites) == 0 {
					t.Errorf("GET %s: empty %s", c.own, c.list)
				}
				for _, s := range sites {
					if s != "" && s != fixture.Site && !strings.HasPrefix(s, fixture.Site+"/") {
						t.Errorf("GET %s shows site %q", c.own, s)
					}
				}
			})
			t.Run(role+"/"+c.route+"/other", func(t *testing.T) {
				rec := get(h, c.other, roleToken(role))
				if rec.Code != c.otherCode {
					t.Fatalf("GET %s: %d %s, want %d", c.other, rec.Code, rec.Body, c.otherCode)
				}
				if c.otherCode == http.StatusNotFound {
					if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("404 content type %q", ct)
					}
					// The answer must not differ from that of an object
					// that does not exist.
					missing := strings.NewReplacer(otherSite, "no-such-plant", incidentOther, event.NewID("no such incident")).Replace(c.other)
					want := get(h, missing, roleToken(role))
					var a, b console.Problem
					if json.Unmarshal(rec.Body.Bytes(), &a) != nil || json.Unmarshal(want.Body.Bytes(), &b) != nil ||
						want.Code != rec.Code || a.Detail != b.Detail || a.Title != b.Title {
						t.Errorf("other site's object: %d %s; missing object: %d %s", rec.Code, rec.Body, want.Code, want.Body)
					}
					return
				}
				if c.list == "" {
					return
				}
				sites := sitesOf(t, rec.Body.Bytes(), c.list)
				if strings.Contains(c.other, "site="+otherSite) && len(sites) != 0 {
					t.Errorf("GET %s: %d %s, want none", c.other, len(sites), c.list)
				}
				for _, s := range sites {
					if s == otherSite || strings.HasPrefix(s, otherSite+"/") {
						t.Errorf("GET %s shows the other site's %q", c.other, s)
					}
				}
			})
		}
	}

	t.Run("all-sites admin sees the other site", func(t *testing.T) {
		for _, c := range scopeCases {
			rec := get(h, c.other, adminAllToken)
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d %s", c.other, rec.Code, rec.Body)
				continue
			}
			if c.list == "counts" && len(sitesOf(t, rec.Body.Bytes(), c.list)) == 0 {
				t.Errorf("GET %s: no counts for the all-sites admin", c.other)
			}
			if (c.list == "incidents" || c.list == "events" || c.list == "sites") && !slices.ContainsFunc(sitesOf(t, rec.Body.Bytes(), c.list), func(s string) bool { return s == otherSite }) {
				t.Errorf("GET %s: the all-sites admin does not see %s: %s", c.other, otherSite, rec.Body)
			}
		}
	})

	t.Run("caller without data sees empty lists", func(t *testing.T) {
		for _, c := range scopeCases {
			for _, path := range []string{c.own, c.other} {
				rec := get(h, path, noSitesToken)
				switch {
				case c.list != "" && rec.Code == http.StatusOK:
					if s := sitesOf(t, rec.Body.Bytes(), c.list); len(s) != 0 {
						t.Errorf("GET %s: %v, want nothing", path, s)
					}
				case c.list == "" && c.otherCode == http.StatusNotFound:
					if rec.Code != http.StatusNotFound {
						t.Errorf("GET %s: %d, want 404", path, rec.Code)
					}
				case c.list == "":
					if rec.Code != http.StatusOK {
						t.Errorf("GET %s: %d", path, rec.Code)
					}
				default:
					t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
				}
			}
		}
	})

	for _, tc := range []struct {
		name, header, reason string
	}{
		{"no token", "", "missing"},
		{"unknown token", "Bearer not-a-configured-token-000", "invalid"},
		{"basic scheme", "Basic " + roleToken(console.RoleAdmin), "invalid"},
		{"empty bearer", "Bearer ", "invalid"},
		{"token prefix", "Bearer " + roleToken(console.RoleAdmin)[:20], "invalid"},
		{"token with suffix", "Bearer " + roleToken(console.RoleAdmin) + "x", "invalid"},
	} {
		t.Run("401/"+tc.name, func(t *testing.T) {
			for _, c := range scopeCases {
				req := httptest.NewRequest(http.MethodGet, c.own, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/problem+json" ||
					!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("GET %s: %d %q %q %s, want a 401 problem with WWW-Authenticate", c.own, rec.Code,
						rec.Header().Get("Content-Type"), rec.Header().Get("WWW-Authenticate"), rec.Body)
				}
			}
		})
	}

	t.Run("healthz and metrics need no token", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/metrics"} {
			if rec := get(h, path, ""); rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d", path, rec.Code)
			}
		}
		body := get(h, "/metrics", "").Body.String()
		for _, want := range []string{`c981_console_auth_failures_total{reason="missing"}`, `c981_console_auth_failures_total{reason="invalid"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	svc := authService(t, console.RateLimitConfig{PerSecond: 0.001, Burst: 3})
	h := svc.Handler()
	analyst, operator := roleToken(console.RoleAnalyst), roleToken(console.RoleOperator)
	for i := range 3 {
		if rec := get(h, "/api/sites", analyst); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := get(h, "/api/sites", analyst)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("4th request: %d %s, want a 429 problem", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q, want seconds", ra)
	}
	// The bucket is per token: another caller is not limited.
	if rec := get(h, "/api/sites", operator); rec.Code != http.StatusOK {
		t.Errorf("other token: %d, want 200", rec.Code)
	}
	// Health checks are never limited.
	if rec := get(h, "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz: %d", rec.Code)
	}
	if !strings.Contains(get(h, "/metrics", "").Body.String(), "c981_console_rate_limited_total 1") {
		t.Error("/metrics does not count the 429")
	}
}

// rolelessAuth authenticates every request as a caller without roles.
type rolelessAuth struct{}

func (rolelessAuth) Authenticate(*http.Request) (console.Identity, string, error) {
	return console.Identity{User: "nobody", AllSites: true}, "nobody", nil
}

func TestExternalAuthenticator(t *testing.T) {
	conn := fixture.Open(t)
	cfg := console.Config{Addr: "0.0.0.0:0", Auth: console.AuthExternal, ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}}}
	if _, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "needs an Authenticator") {
		t.Errorf("external without an Authenticator: %v", err)
	}
	svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger(), Authenticator: rolelessAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(svc.Handler(), "/api/sites", ""); rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("caller without roles: %d %s, want a 403 problem", rec.Code, rec.Body)
	}
}

func TestAuthModes(t *testing.T) {
	conn := fixture.Open(t)
	ch := console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}}
	for _, tc := range []struct {
		name string
		cfg  console.Config
		ok   bool
	}{
		{name: "demo on loopback", cfg: console.Config{Addr: "127.0.0.1:0"}, ok: true},
		{name: "demo on localhost", cfg: console.Config{Addr: "localhost:0"}, ok: true},
		{name: "demo on IPv6 loopback", cfg: console.Config{Addr: "[::1]:0"}, ok: true},
		{name: "demo on all interfaces", cfg: console.Config{Addr: ":8981"}},
		{name: "demo on a public address", cfg: console.Config{Addr: "0.0.0.0:8981"}},
		{name: "none on a public address", cfg: console.Config{Addr: "0.0.0.0:8981", Auth: console.AuthNone}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClickHouse = ch
			svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger()})
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "tokens: required") {
					t.Fatalf("New: %v, want a tokens error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec := get(svc.Handler(), "/api/incidents?limit=1", ""); rec.Code != http.StatusOK {
				t.Errorf("tokenless request: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
		wantErr error
	}{
		{"none", nil, "", console.ErrNoCredentials},
		{"bearer", []string{"Bearer abc"}, "abc", nil},
		{"case-insensitive scheme", []string{"bearer abc"}, "abc", nil},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", console.ErrBadCredentials},
		{"basic", []string{"Basic YTpi"}, "", console.ErrBadCredentials},
		{"no scheme", []string{"abc"}, "", console.ErrBadCredentials},
		{"empty token", []string{"Bearer   "}, "", console.ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			got, err := console.BearerToken(req)
			if got != tc.want || (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !strings.Contains(err.Error(), tc.wantErr.Error())) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
