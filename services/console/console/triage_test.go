package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

func init() {
	coveredElsewhere = append(coveredElsewhere,
		"PATCH /api/incidents/{id}", "POST /api/incidents/{id}/notes", "PATCH /api/incidents/{id}/isms")
}

// demoConn is a ClickHouse database with the demo fixture loaded.
func demoConn(t *testing.T) driver.Conn {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// triageService serves conn with a fresh JetStream (triage bucket created)
// and the same tokens as authService: one per role scoped to demo-plant,
// the all-sites admin and a caller of a site without data.
func triageService(t *testing.T, conn driver.Conn) (*console.Service, *bustest.Env) {
	t.Helper()
	env := bustest.Start(t)
	if err := bus.EnsureBuckets(context.Background(), env.JS, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{
		Addr: "0.0.0.0:0", RateLimit: console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5},
		ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}},
	}
	for _, r := range console.Roles {
		cfg.Tokens = append(cfg.Tokens, console.TokenConfig{Token: roleToken(r), User: "user-" + r, Roles: []string{r}, Sites: []string{fixture.Site}})
	}
	cfg.Tokens = append(cfg.Tokens,
		console.TokenConfig{Token: adminAllToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}},
		console.TokenConfig{Token: noSitesToken, User: "nobody", Roles: []string{console.RoleAnalyst}, Sites: []string{"empty-plant"}})
	svc, err := console.New(cfg, console.Deps{Conn: conn, JS: env.JS, Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return svc, env
}

// send makes one request with a bearer token, a JSON body and extra
// header pairs.
func send(h http.Handler, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// etagOf returns the ETag of GET /api/incidents/{id}.
func etagOf(t *testing.T, h http.Handler, id, token string) string {
	t.Helper()
	rec := get(h, "/api/incidents/"+id, token)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET incident %s: %d %s", id, rec.Code, rec.Body)
	}
	return strings.Trim(rec.Header().Get("ETag"), `"`)
}

func decodeTriage(t *testing.T, rec *httptest.ResponseRecorder) event.Triage {
	t.Helper()
	var tr event.Triage
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		t.Fatalf("decode triage %s: %v", rec.Body, err)
	}
	return tr
}

// writeCase is one write route with a body (given the version it is based
// on) and the roles it is granted to.
type writeCase struct {
	route  string // the pattern, for the coverage check
	method string
	suffix string // path after /api/incidents/{id}
	body   func(version string) string
	// allowed roles get 200 on their own site; the others 403.
	allowed []string
	// later are roles the route admits that are refused the change itself
	// (403 on their own site, 404 on another site like every admitted role).
	later []string
}

var writeCases = []writeCase{
	{route: "PATCH /api/incidents/{id}", method: http.MethodPatch,
		body:    func(v string) string { return `{"version":` + v + `,"status":"acknowledged"}` },
		allowed: []string{console.RoleAnalyst, console.RoleOperator, console.RoleControlEngineer, console.RoleSafetyEngineer, console.RoleManager, console.RoleISMSOwner, console.RoleAdmin}},
	{route: "PATCH /api/incidents/{id}", method: http.MethodPatch,
		body:    func(v string) string { return `{"version":` + v + `,"assignee":"carol"}` },
		allowed: []string{console.RoleAnalyst, console.RoleControlEngineer, console.RoleSafetyEngineer, console.RoleManager, console.RoleISMSOwner, console.RoleAdmin},
		later:   []string{console.RoleOperator}},
	{route: "POST /api/incidents/{id}/notes", method: http.MethodPost, suffix: "/notes",
		body:    func(v string) string { return `{"version":` + v + `,"text":"checked the SIS key switch"}` },
		allowed: []string{console.RoleAnalyst, console.RoleOperator, console.RoleControlEngineer, console.RoleSafetyEngineer, console.RoleManager, console.RoleISMSOwner, console.RoleAdmin}},
	{route: "PATCH /api/incidents/{id}/isms", method: http.MethodPatch, suffix: "/isms",
		body: func(v string) string {
			return `{"version":` + v + `,"classification":"incident","category":"unauthorized_change"}`
		},
		allowed: []string{console.RoleISMSOwner, console.RoleAdmin}},
}

// TestTriageWriteAuthorization checks every role against every write
// route on an incident of its own site and of another site: allowed roles
// write their own site's incidents, every other role gets 403, and another
// site's incident answers exactly like an incident that does not exist.
func TestTriageWriteAuthorization(t *testing.T) {
	conn := demoConn(t)
	for _, role := range console.Roles {
		t.Run(role, func(t *testing.T) {
			svc, _ := triageService(t, conn) // a fresh bus: every role starts at version 0
			h := svc.Handler()
			token := roleToken(role)
			for i, c := range writeCases {
				name := fmt.Sprintf("%d %s", i, c.route)
				allowed := slices.Contains(c.allowed, role)
				t.Run(name+"/own", func(t *testing.T) {
					v := etagOf(t, h, fixture.IncidentSIS, token)
					rec := send(h, c.method, "/api/incidents/"+fixture.IncidentSIS+c.suffix, token, c.body(v))
					want := http.StatusForbidden
					if allowed {
						want = http.StatusOK
					}
					if rec.Code != want {
						t.Fatalf("%s own incident: %d %s, want %d", c.route, rec.Code, rec.Body, want)
					}
					if !allowed {
						return
					}
					tr := decodeTriage(t, rec)
					last := tr.History[len(tr.History)-1]
					if tr.UpdatedBy != "user-"+role || last.Actor != "user-"+role || last.Role != role || fmt.Sprint(tr.Version) != rec.Header().Get("ETag")[1:len(rec.Header().Get("ETag"))-1] {
						t.Errorf("write recorded as %s/%s (updated by %s), version %d etag %s; want user-%s/%s", last.Actor, last.Role, tr.UpdatedBy, tr.Version, rec.Header().Get("ETag"), role, role)
					}
				})
				t.Run(name+"/other", func(t *testing.T) {
					rec := send(h, c.method, "/api/incidents/"+incidentOther+c.suffix, token, c.body("0"))
					missing := send(h, c.method, "/api/incidents/"+event.NewID("no such incident")+c.suffix, token, c.body("0"))
					want := http.StatusForbidden
					if allowed || slices.Contains(c.later, role) {
						want = http.StatusNotFound
					}
					if rec.Code != want || missing.Code != want {
						t.Fatalf("%s other site: %d %s (missing: %d), want %d", c.route, rec.Code, rec.Body, missing.Code, want)
					}
					var a, b console.Problem
					if json.Unmarshal(rec.Body.Bytes(), &a) != nil || json.Unmarshal(missing.Body.Bytes(), &b) != nil || a.Detail != b.Detail || a.Title != b.Title {
						t.Errorf("other site's incident: %s; missing incident: %s", rec.Body, missing.Body)
					}
				})
			}
			t.Run("no own sites", func(t *testing.T) {
				if rec := send(h, http.MethodPatch, "/api/incidents/"+fixture.IncidentSIS, noSitesToken, `{"version":0,"status":"acknowledged"}`); rec.Code != http.StatusNotFound {
					t.Errorf("caller of another site: %d %s, want 404", rec.Code, rec.Body)
				}
			})
		})
	}
	t.Run("all-sites admin writes the other site", func(t *testing.T) {
		svc, _ := triageService(t, conn)
		rec := send(svc.Handler(), http.MethodPatch, "/api/incidents/"+incidentOther, adminAllToken, `{"version":0,"status":"investigating"}`)
		if rec.Code != http.StatusOK || decodeTriage(t, rec).Site != otherSite {
			t.Errorf("admin on other-plant: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestTriageRace: two writers based on the same version race; exactly one
// wins, the other gets 409 with the version now stored, round after round.
func TestTriageRace(t *testing.T) {
	svc, _ := triageService(t, demoConn(t))
	h := svc.Handler()
	analyst := roleToken(console.RoleAnalyst)
	for round := range 5 {
		version := fmt.Sprint(round)
		var wg sync.WaitGroup
		recs := make([]*httptest.ResponseRecorder, 2)
		start := make(chan struct{})
		for i := range recs {
			body := fmt.Sprintf(`{"version":%s,"assignee":"user-%d-%d"}`, version, round, i)
			wg.Go(func() {
				<-start
				recs[i] = send(h, http.MethodPatch, "/api/incidents/"+fixture.IncidentSIS, analyst, body)
			})
		}
		close(start)
		wg.Wait()
		codes := []int{recs[0].Code, recs[1].Code}
		slices.Sort(codes)
		if codes[0] != http.StatusOK || codes[1] != http.StatusConflict {
			t.Fatalf("round %d: codes %v (%s | %s), want one 200 and one 409", round, codes, recs[0].Body, recs[1].Body)
		}
		loser := recs[0]
		if loser.Code != http.StatusConflict {
			loser = recs[1]
		}
		var p console.ConflictProblem
		if err := json.Unmarshal(loser.Body.Bytes(), &p); err != nil || p.CurrentVersion != uint64(round+1) || loser.Header().Get("ETag") != fmt.Sprintf(`"%d"`, round+1) ||
			loser.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("round %d: 409 %s etag %s, want current_version %d", round, loser.Body, loser.Header().Get("ETag"), round+1)
		}
	}
	rec := get(h, "/api/incidents/"+fixture.IncidentSIS, analyst)
	var d struct {
		Triage event.Triage `json:"triage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Triage.Version != 5 || len(d.Triage.History) != 5 || rec.Header().Get("ETag") != `"5"` {
		t.Errorf("after 5 rounds: version %d, %d changes, etag %s; want 5, 5, \"5\"", d.Triage.Version, len(d.Triage.History), rec.Header().Get("ETag"))
	}
}

// TestTriageValidation covers the refusals of the write routes, in order
// (each case is based on the state the previous ones left).
func TestTriageValidation(t *testing.T) {
	svc, _ := triageService(t, demoConn(t))
	h := svc.Handler()
	analyst, isms := roleToken(console.RoleAnalyst), roleToken(console.RoleISMSOwner)
	inc := "/api/incidents/" + fixture.IncidentSIS
	now := time.Now().UTC()
	aware := now.Add(-30 * time.Hour).Format(time.RFC3339)
	warned := now.Add(-10 * time.Hour).Format(time.RFC3339)
	future := now.Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name, method, path, token, body string
		header                          []string
		code                            int
		detail                          string // substring of the problem detail
	}{
		{"no version", http.MethodPatch, inc, analyst, `{"status":"acknowledged"}`, nil, 428, "give the version"},
		{"null version", http.MethodPatch, inc, analyst, `{"version":null,"status":"acknowledged"}`, nil, 400, "version cannot be null"},
		{"stale version", http.MethodPatch, inc, analyst, `{"version":3,"status":"acknowledged"}`, nil, 409, "current version is 0"},
		{"mass assignment of history", http.MethodPatch, inc, analyst, `{"version":0,"status":"acknowledged","history":[]}`, nil, 400, `unknown field "history"`},
		{"mass assignment of updated_by", http.MethodPatch, inc, analyst, `{"version":0,"updated_by":"root"}`, nil, 400, `unknown field "updated_by"`},
		{"mass assignment of isms", http.MethodPatch, inc, analyst, `{"version":0,"isms":{"significant":true}}`, nil, 400, `unknown field "isms"`},
		{"mass assignment of a note author", http.MethodPost, inc + "/notes", analyst, `{"version":0,"text":"x","author":"root"}`, nil, 400, `unknown field "author"`},
		{"two objects", http.MethodPatch, inc, analyst, `{"version":0,"status":"acknowledged"} {}`, nil, 400, "one JSON object"},
		{"not json", http.MethodPatch, inc, analyst, `status=acknowledged`, nil, 400, "body:"},
		{"text body", http.MethodPatch, inc, analyst, `{"version":0,"status":"acknowledged"}`, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"nothing to change", http.MethodPatch, inc, analyst, `{"version":0}`, nil, 400, "nothing to change"},
		{"unknown status", http.MethodPatch, inc, analyst, `{"version":0,"status":"done"}`, nil, 422, `unknown status "done"`},
		{"same status", http.MethodPatch, inc, analyst, `{"version":0,"status":"new"}`, nil, 422, "already new"},
		{"query parameter", http.MethodPatch, inc + "?force=1", analyst, `{"version":0,"status":"acknowledged"}`, nil, 400, "invalid request parameters"},
		{"bad id", http.MethodPatch, "/api/incidents/not-a-uuid", analyst, `{"version":0,"status":"acknowledged"}`, nil, 400, "invalid request parameters"},
		{"if-match disagrees", http.MethodPatch, inc, analyst, `{"version":0,"status":"acknowledged"}`, []string{"If-Match", `"2"`}, 400, "disagree"},
		{"bad if-match", http.MethodPatch, inc, analyst, `{"status":"acknowledged"}`, []string{"If-Match", `*`}, 400, "If-Match"},
		{"acknowledge via if-match", http.MethodPatch, inc, analyst, `{"status":"acknowledged"}`, []string{"If-Match", `"0"`}, 200, ""},
		{"back to new", http.MethodPatch, inc, analyst, `{"version":1,"status":"new"}`, nil, 422, "cannot move from acknowledged back to new"},
		{"contain and assign", http.MethodPatch, inc, analyst, `{"version":1,"status":"contained","assignee":"dave"}`, nil, 200, ""},
		{"assignee control character", http.MethodPatch, inc, analyst, `{"version":2,"assignee":"eve\u0007"}`, nil, 422, "control character"},
		{"assignee too long", http.MethodPatch, inc, analyst, `{"version":2,"assignee":"` + strings.Repeat("a", console.MaxUserBytes+1) + `"}`, nil, 422, "at most 128 bytes"},
		{"same assignee", http.MethodPatch, inc, analyst, `{"version":2,"assignee":"dave"}`, nil, 422, "already assigned"},
		{"operator may not investigate", http.MethodPatch, inc, roleToken(console.RoleOperator), `{"version":2,"status":"investigating"}`, nil, 403, "operator may only"},
		{"reopen", http.MethodPatch, inc, analyst, `{"version":2,"status":"investigating","assignee":null}`, nil, 200, ""},
		{"empty note", http.MethodPost, inc + "/notes", analyst, `{"version":3,"text":"  "}`, nil, 400, "needs text"},
		{"note too long", http.MethodPost, inc + "/notes", analyst, `{"version":3,"text":"` + strings.Repeat("x", console.MaxNoteBytes+1) + `"}`, nil, 422, "at most 4096 bytes"},
		{"body too large", http.MethodPost, inc + "/notes", analyst, `{"version":3,"text":"` + strings.Repeat("x", console.MaxBodyBytes) + `"}`, nil, 413, "limited to 65536 bytes"},
		{"note", http.MethodPost, inc + "/notes", roleToken(console.RoleOperator), `{"version":3,"text":"Operator: SIS key switch in RUN.\nNo trip."}`, nil, 200, ""},
		{"isms by analyst", http.MethodPatch, inc + "/isms", analyst, `{"version":4,"classification":"incident"}`, nil, 403, "roles"},
		{"isms enums", http.MethodPatch, inc + "/isms", isms, `{"version":4,"classification":"problem","category":"aliens","impact":{"safety":"extreme"}}`, nil, 422, `classification: "problem" is not one of`},
		{"isms future", http.MethodPatch, inc + "/isms", isms, `{"version":4,"significant":true,"became_aware_at":"` + future + `"}`, nil, 422, "in the future"},
		{"isms submission not significant", http.MethodPatch, inc + "/isms", isms, `{"version":4,"became_aware_at":"` + aware + `","early_warning_at":"` + warned + `"}`, nil, 422, "set significant"},
		{"isms final before notification", http.MethodPatch, inc + "/isms", isms, `{"version":4,"significant":true,"became_aware_at":"` + aware + `","final_report_at":"` + warned + `"}`, nil, 422, "set notification_at first"},
		{"isms before aware", http.MethodPatch, inc + "/isms", isms, `{"version":4,"significant":true,"became_aware_at":"` + warned + `","early_warning_at":"` + aware + `"}`, nil, 422, "early_warning_at is before became_aware_at"},
		{"isms unknown member", http.MethodPatch, inc + "/isms", isms, `{"version":4,"notified_by":"x"}`, nil, 400, `unknown field "notified_by"`},
		{"isms record", http.MethodPatch, inc + "/isms", isms, `{"version":4,"classification":"incident","category":"unauthorized_change","significant":true,"became_aware_at":"` + aware + `","early_warning_at":"` + warned + `","impact":{"safety":"high","operations":"medium"},"evidence":["pcap:sis-01/2026-11-26"]}`, nil, 200, ""},
		{"isms unchanged", http.MethodPatch, inc + "/isms", isms, `{"version":5,"classification":"incident"}`, nil, 422, "nothing changes"},
		{"auditor", http.MethodPost, inc + "/notes", roleToken(console.RoleAuditor), `{"version":5,"text":"x"}`, nil, 403, "roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := send(h, tc.method, tc.path, tc.token, tc.body, tc.header...)
			if rec.Code != tc.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			if tc.code == http.StatusOK {
				return
			}
			var p console.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("not a problem: %s %s", rec.Header().Get("Content-Type"), rec.Body)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tc.detail)
			}
		})
	}

	// The accepted writes, as the history records them.
	rec := get(h, inc, roleToken(console.RoleAuditor))
	var d struct {
		Incident event.Incident `json:"incident"`
		Triage   event.Triage   `json:"triage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Triage.History {
		to := c.To
		if strings.HasSuffix(c.Field, "_at") {
			to = "<time>"
		}
		got = append(got, fmt.Sprintf("%d %s %s %q->%q", c.Version, c.Role, c.Field, c.From, to))
	}
	want := []string{
		`1 analyst status "new"->"acknowledged"`,
		`2 analyst status "acknowledged"->"contained"`,
		`2 analyst assignee ""->"dave"`,
		`3 analyst status "contained"->"investigating"`,
		`3 analyst assignee "dave"->""`,
		`4 operator note ""->"Operator: SIS key switch in RUN.\nNo trip."`,
		`5 isms_owner isms.classification ""->"incident"`,
		`5 isms_owner isms.category ""->"unauthorized_change"`,
		`5 isms_owner isms.significant "false"->"true"`,
		`5 isms_owner isms.became_aware_at ""->"<time>"`,
		`5 isms_owner isms.early_warning_at ""->"<time>"`,
		`5 isms_owner isms.impact.safety ""->"high"`,
		`5 isms_owner isms.impact.operations ""->"medium"`,
		`5 isms_owner isms.evidence ""->"[\"pcap:sis-01/2026-11-26\"]"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tr := d.Triage
	if d.Incident.Status != event.StatusInvestigating || tr.Status != event.StatusInvestigating || tr.Assignee != "" || len(tr.Notes) != 1 ||
		tr.Notes[0].Author != "user-operator" || !tr.ISMS.Significant || tr.ISMS.Impact.Safety != "high" || tr.ISMS.BecameAwareAt == nil ||
		tr.ISMS.BecameAwareAt.Format(time.RFC3339) != aware || len(tr.ISMS.Evidence) != 1 || rec.Header().Get("ETag") != `"5"` {
		t.Errorf("final state: incident status %s, triage %+v, etag %s", d.Incident.Status, tr, rec.Header().Get("ETag"))
	}
}

// TestTriageWithoutBus: a console without the bus is read-only; the write
// routes answer 503 (after authorization) and the reads still work.
func TestTriageWithoutBus(t *testing.T) {
	h := authService(t, console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5}).Handler()
	for _, c := range writeCases {
		rec := send(h, c.method, "/api/incidents/"+fixture.IncidentSIS+c.suffix, roleToken(console.RoleAdmin), c.body("0"))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "without a bus") {
			t.Errorf("%s without bus: %d %s, want 503", c.route, rec.Code, rec.Body)
		}
		if rec := send(h, c.method, "/api/incidents/"+fixture.IncidentSIS+c.suffix, roleToken(console.RoleAuditor), c.body("0")); rec.Code != http.StatusForbidden {
			t.Errorf("%s as auditor without bus: %d, want 403", c.route, rec.Code)
		}
	}
	if rec := get(h, "/api/incidents/"+fixture.IncidentSIS, roleToken(console.RoleAuditor)); rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"0"` {
		t.Errorf("GET without bus: %d etag %q", rec.Code, rec.Header().Get("ETag"))
	}
}

// TestTriageBucketCreated: with a bus but no triage bucket yet, the first
// write creates it (the console owns the bucket) and succeeds; reads
// before it work without it.
func TestTriageBucketCreated(t *testing.T) {
	env := bustest.Start(t)
	cfg := console.Config{
		Addr: "0.0.0.0:0", RateLimit: console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5},
		ClickHouse: console.ClickHouseConfig{Addr: console.Addrs{"127.0.0.1:9000"}},
		Tokens:     []console.TokenConfig{{Token: adminAllToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}}},
	}
	svc, err := console.New(cfg, console.Deps{Conn: demoConn(t), JS: env.JS, Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	h := svc.Handler()
	if rec := get(h, "/api/incidents/"+fixture.IncidentSIS, adminAllToken); rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"0"` {
		t.Fatalf("GET without the bucket: %d etag %q", rec.Code, rec.Header().Get("ETag"))
	}
	if _, err := env.JS.KeyValue(context.Background(), bus.KVTriage); err == nil {
		t.Fatal("a read created the bucket")
	}
	rec := send(h, http.MethodPatch, "/api/incidents/"+fixture.IncidentSIS, adminAllToken, `{"version":0,"status":"acknowledged"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("first write: %d %s, want 200", rec.Code, rec.Body)
	}
	kv, err := env.JS.KeyValue(context.Background(), bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(context.Background()); err != nil || st.History() != bus.TriageHistory {
		t.Errorf("bucket status %v, %v; want history %d", st, err, bus.TriageHistory)
	}
}
