package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newService(t *testing.T, cfg console.Config) *console.Service {
	t.Helper()
	conn := fixture.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	cfg.ClickHouse.Addr = console.Addrs{"127.0.0.1:9000"} // Deps.Conn is used; the address only has to be valid
	svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger(), Registry: telemetry.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// golden is the stored form of one response.
type golden struct {
	Status      int             `json:"status"`
	ContentType string          `json:"content_type"`
	Allow       string          `json:"allow,omitempty"`
	Body        json.RawMessage `json:"body"`
}

func checkGolden(t *testing.T, name string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	var body json.RawMessage = rec.Body.Bytes()
	if !json.Valid(body) {
		t.Fatalf("response body is not JSON: %q", rec.Body.String())
	}
	got, err := json.MarshalIndent(golden{Status: rec.Code, ContentType: rec.Header().Get("Content-Type"), Allow: rec.Header().Get("Allow"), Body: body}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response differs from %s (run go test -update after checking)\ngot:\n%s", path, got)
	}
}

func TestAPI(t *testing.T) {
	svc := newService(t, console.Config{})
	h := svc.Handler()
	cursors := map[string]string{} // case name -> next_cursor of its response
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		cursorFrom string // append &cursor= with that case's next_cursor
	}{
		{name: "list-all", path: "/api/incidents"},
		{name: "list-site", path: "/api/incidents?site=demo-plant"},
		{name: "list-site-other", path: "/api/incidents?site=other-plant"},
		{name: "list-site-unknown", path: "/api/incidents?site=nowhere"},
		{name: "list-status-new", path: "/api/incidents?status=new"},
		{name: "list-status-several", path: "/api/incidents?status=acknowledged,investigating"},
		{name: "list-severity-high", path: "/api/incidents?severity=high"},
		{name: "list-since", path: "/api/incidents?since=2026-11-26T10:10:00Z"},
		{name: "list-until", path: "/api/incidents?until=2026-11-26T09:00:00Z"},
		{name: "list-window", path: "/api/incidents?since=2026-11-26T10:00:00%2B01:00&until=2026-11-26T10:30:00Z"},
		{name: "list-text-asset", path: "/api/incidents?q=SIS-01"},
		{name: "list-zone", path: "/api/incidents?zone=demo-plant%2Fsafety"},
		{name: "list-assignee-nobody", path: "/api/incidents?assignee=alice"},
		{name: "list-text-technique", path: "/api/incidents?q=t0848"},
		{name: "list-text-quote", path: "/api/incidents?q=%27%29%20OR%201%3D1%20--"},
		{name: "list-combined", path: "/api/incidents?site=demo-plant&status=new,investigating&severity=medium&q=plc"},
		{name: "list-page-1", path: "/api/incidents?limit=2"},
		{name: "list-page-2", path: "/api/incidents?limit=2", cursorFrom: "list-page-1"},
		{name: "list-page-3", path: "/api/incidents?limit=2", cursorFrom: "list-page-2"},
		{name: "bad-severity", path: "/api/incidents?severity=urgent"},
		{name: "bad-status", path: "/api/incidents?status=new,open"},
		{name: "bad-time", path: "/api/incidents?since=yesterday"},
		{name: "bad-until-before-since", path: "/api/incidents?since=2026-11-26T10:00:00Z&until=2026-11-26T09:00:00Z"},
		{name: "bad-limit-over-max", path: "/api/incidents?limit=501"},
		{name: "bad-limit-not-int", path: "/api/incidents?limit=ten"},
		{name: "bad-cursor", path: "/api/incidents?cursor=garbage"},
		{name: "bad-unknown-param", path: "/api/incidents?sort=title&order=asc"},
		{name: "bad-repeated-param", path: "/api/incidents?severity=high&severity=low"},
		{name: "bad-several", path: "/api/incidents?severity=x&limit=0&since=now"},
		{name: "bad-query-string", path: "/api/incidents?q=%zz"},
		{name: "detail-sis", path: "/api/incidents/" + fixture.IncidentSIS},
		{name: "detail-late", path: "/api/incidents/" + fixture.IncidentLate},
		{name: "detail-uppercase-id", path: "/api/incidents/" + strings.ToUpper(fixture.IncidentLate)},
		{name: "detail-not-found", path: "/api/incidents/" + event.NewID("no such incident")},
		{name: "detail-bad-id", path: "/api/incidents/not-a-uuid"},
		{name: "detail-bad-id-injection", path: "/api/incidents/x%27%29%20OR%201%3D1%20--"},
		{name: "detail-query-param", path: "/api/incidents/" + fixture.IncidentSIS + "?expand=all"},
		{name: "method-not-allowed", method: http.MethodPost, path: "/api/incidents"},
		{name: "method-not-allowed-detail", method: http.MethodDelete, path: "/api/incidents/" + fixture.IncidentSIS},
		{name: "unknown-route", path: "/api/zones"},
		{name: "healthz", path: "/healthz"},
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
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &page)
			cursors[tc.name] = page.NextCursor
			checkGolden(t, tc.name, rec)
		})
	}

	t.Run("pages cover the list", func(t *testing.T) {
		var all, paged []string
		for _, name := range []string{"list-all", "list-page-1", "list-page-2", "list-page-3"} {
			data, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Body console.ListResponse `json:"body"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			for _, s := range g.Body.Incidents {
				if name == "list-all" {
					all = append(all, s.ID)
				} else {
					paged = append(paged, s.ID)
				}
			}
		}
		if strings.Join(all, ",") != strings.Join(paged, ",") {
			t.Errorf("pages give %v, want %v", paged, all)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		body := rec.Body.String()
		for _, want := range []string{
			`c981_console_http_requests_total{code="200",route="GET /api/incidents"} 19`,
			`c981_console_http_requests_total{code="400",route="GET /api/incidents"} 11`,
			`c981_console_http_requests_total{code="404",route="GET /api/incidents/{id}"} 1`,
			`c981_console_http_requests_total{code="405",route="/api/incidents"} 1`,
			`c981_console_http_requests_total{code="404",route="unmatched"} 1`,
			`c981_console_http_request_duration_seconds_count{route="GET /api/incidents/{id}"} 7`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

func TestQueryTimeout(t *testing.T) {
	svc := newService(t, console.Config{QueryTimeout: time.Nanosecond})
	for _, path := range []string{"/api/incidents", "/api/incidents/" + fixture.IncidentSIS, "/api/incidents/" + fixture.IncidentSIS + "/plans",
		"/api/events", "/api/stats/events", "/api/stats/talkers"} {
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusGatewayTimeout || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s with 1ns timeout: %d %s %s, want a 504 problem", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestRequestLimits(t *testing.T) {
	svc := newService(t, console.Config{})
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/incidents", strings.NewReader(strings.Repeat("x", console.MaxBodyBytes+1))))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", rec.Code)
	}
}

func TestRun(t *testing.T) {
	svc := newService(t, console.Config{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready after 10s")
	}
	for _, path := range []string{"/healthz", "/api/incidents?limit=1"} {
		resp, err := http.Get("http://" + svc.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// An oversized request line and headers are refused by the server.
	resp, err := http.Get("http://" + svc.Addr() + "/api/incidents?q=" + strings.Repeat("a", 2*console.MaxHeaderBytes))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized request: %d, want 431", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
