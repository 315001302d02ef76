package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/console/internal/fixture"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/telemetry"
)

// Tokens of the stream tests.
const (
	demoAnalystToken  = "stream-analyst-demo-plant-01"
	otherAnalystToken = "stream-analyst-other-plant-1"
	streamAdminToken  = "stream-admin-of-all-sites-01"
)

// streamEnv is a console with live updates: an embedded JetStream (with
// the triage bucket) and the ClickHouse fixture.
type streamEnv struct {
	bus  *bustest.Env
	js   jetstream.JetStream
	svc  *console.Service
	reg  *prometheus.Registry
	conn driver.Conn
}

// newStreamEnv starts the console with the stream tests' tokens added to
// cfg's, or in demo mode (no tokens, loopback) when demo is set.
func newStreamEnv(t *testing.T, cfg console.Config, demo bool) *streamEnv {
	t.Helper()
	env := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.EnsureBuckets(ctx, env.JS, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	// The console has its own connection, as in a deployment.
	nc, js, err := bus.Connect(env.URL, "console")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	conn := fixture.Open(t)
	if err := fixture.Load(ctx, conn, fixture.Demo()); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.ClickHouse.Addr = console.Addrs{"127.0.0.1:9000"}
	cfg.RateLimit = console.RateLimitConfig{PerSecond: 1e5, Burst: 1e5}
	if !demo {
		cfg.Tokens = append(cfg.Tokens,
			console.TokenConfig{Token: demoAnalystToken, User: "ana", Roles: []string{console.RoleAnalyst}, Sites: []string{fixture.Site}},
			console.TokenConfig{Token: otherAnalystToken, User: "otto", Roles: []string{console.RoleAnalyst}, Sites: []string{otherSite}},
			console.TokenConfig{Token: streamAdminToken, User: "root", Roles: []string{console.RoleAdmin}, Sites: []string{console.AllSites}})
	}
	reg := telemetry.NewRegistry()
	svc, err := console.New(cfg, console.Deps{Conn: conn, Logger: quietLogger(), Registry: reg, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	return &streamEnv{bus: env, js: env.JS, svc: svc, reg: reg, conn: conn}
}

// sseFrame is one server-sent event or comment.
type sseFrame struct {
	Event, Data, Comment string
}

// readSSE parses the stream into frames until it ends.
func readSSE(r io.Reader) <-chan sseFrame {
	ch := make(chan sseFrame, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var f sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f != (sseFrame{}) {
					ch <- f
				}
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				f.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				f.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				f.Data = line[len("data: "):]
			}
		}
	}()
	return ch
}

// openStream connects to /api/stream of base with token and waits for the
// connected comment.
func openStream(t *testing.T, base, token string) <-chan sseFrame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/stream: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	frames := readSSE(resp.Body)
	select {
	case f := <-frames:
		if f.Comment != "c981 live updates" {
			t.Fatalf("first frame %+v, want the connected comment", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no connected comment")
	}
	return frames
}

// next returns the next frame that is not a heartbeat.
func next(t *testing.T, frames <-chan sseFrame) sseFrame {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("the stream ended")
			}
			if f.Comment == "heartbeat" {
				continue
			}
			return f
		case <-timeout:
			t.Fatal("no update within 10s")
		}
	}
}

func incidentOf(site, key string) event.Incident {
	return event.Incident{ID: event.NewID("incident", site, key), Version: 1, Site: site, Key: key, Title: "test " + key, Severity: event.SevHigh, Status: event.StatusNew}
}

func publish[T any](t *testing.T, js jetstream.JetStream, subject string, recs ...T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, err := event.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, js, subject, event.NewID("msg", subject, string(data)), len(recs), data); err != nil {
		t.Fatal(err)
	}
}

func putTriage(t *testing.T, js jetstream.JetStream, tr event.Triage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bus.KVTriage)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, tr.IncidentID, data); err != nil {
		t.Fatal(err)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			sum += value(m)
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestStreamScopedDelivery: each client gets the incidents, plans and
// triage changes of its own sites only, the all-sites admin all of them.
func TestStreamScopedDelivery(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	srv := httptest.NewServer(e.svc.Handler())
	t.Cleanup(srv.Close)
	demo := openStream(t, srv.URL, demoAnalystToken)
	other := openStream(t, srv.URL, otherAnalystToken)
	admin := openStream(t, srv.URL, streamAdminToken)

	incDemo, incOther := incidentOf(fixture.Site, "a"), incidentOf(otherSite, "b")
	// Each subject's updates arrive in order, so a client that gets its own
	// site's record after the other site's did not get the other one.
	publish(t, e.js, bus.IncidentsSubject(otherSite), incOther)
	publish(t, e.js, bus.IncidentsSubject(fixture.Site), incDemo)
	planOther := event.Plan{ID: event.NewID("plan", "o"), IncidentID: incOther.ID, IncidentVersion: 1, Site: otherSite, PlaybookID: "pb", Steps: []event.Step{{ID: "s1", Text: "call the operator", Decision: event.DecisionAllowed}}}
	planDemo := planOther
	planDemo.ID, planDemo.IncidentID, planDemo.Site = event.NewID("plan", "d"), incDemo.ID, fixture.Site
	publish(t, e.js, bus.ActionsSubject(otherSite), planOther)
	publish(t, e.js, bus.ActionsSubject(fixture.Site), planDemo)
	trOther := event.NewTriage(incOther.ID, otherSite)
	trOther.Version, trOther.Status, trOther.Assignee = 1, event.StatusAcknowledged, "otto"
	trDemo := event.NewTriage(incDemo.ID, fixture.Site)
	trDemo.Version, trDemo.Status = 1, event.StatusAcknowledged
	putTriage(t, e.js, trOther)
	putTriage(t, e.js, trDemo)

	type got struct{ kind, id, site string }
	collect := func(frames <-chan sseFrame, n int) []got {
		var out []got
		for range n {
			f := next(t, frames)
			var v struct {
				ID         string `json:"id"`
				IncidentID string `json:"incident_id"`
				Site       string `json:"site"`
			}
			if err := json.Unmarshal([]byte(f.Data), &v); err != nil {
				t.Fatalf("%s data %q: %v", f.Event, f.Data, err)
			}
			id := v.ID
			if f.Event == console.UpdateTriage {
				id = v.IncidentID
			}
			out = append(out, got{f.Event, id, v.Site})
		}
		return out
	}
	check := func(name string, frames <-chan sseFrame, want []got) {
		t.Run(name, func(t *testing.T) {
			res := collect(frames, len(want))
			for _, w := range want {
				found := false
				for _, g := range res {
					found = found || g == w
				}
				if !found {
					t.Errorf("missing %+v in %+v", w, res)
				}
			}
			for _, g := range res {
				if name != "admin" && g.site != map[string]string{"demo": fixture.Site, "other": otherSite}[name] {
					t.Errorf("got an update of another site: %+v", g)
				}
			}
		})
	}
	check("demo", demo, []got{{"incident", incDemo.ID, fixture.Site}, {"plan", planDemo.ID, fixture.Site}, {"triage", incDemo.ID, fixture.Site}})
	check("other", other, []got{{"incident", incOther.ID, otherSite}, {"plan", planOther.ID, otherSite}, {"triage", incOther.ID, otherSite}})
	check("admin", admin, []got{
		{"incident", incOther.ID, otherSite}, {"incident", incDemo.ID, fixture.Site},
		{"plan", planOther.ID, otherSite}, {"plan", planDemo.ID, fixture.Site},
		{"triage", incOther.ID, otherSite}, {"triage", incDemo.ID, fixture.Site},
	})
	if n := counterValue(t, e.reg, "c981_console_stream_clients", nil); n != 3 {
		t.Errorf("c981_console_stream_clients = %g, want 3", n)
	}
}

// TestStreamBadMessage: an undecodable bus message is counted and skipped;
// the stream goes on.
func TestStreamBadMessage(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	srv := httptest.NewServer(e.svc.Handler())
	t.Cleanup(srv.Close)
	frames := openStream(t, srv.URL, demoAnalystToken)
	if err := e.bus.NC.Publish(bus.IncidentsSubject(fixture.Site), []byte("not msgpack")); err != nil {
		t.Fatal(err)
	}
	if err := e.bus.NC.Publish("$KV."+bus.KVTriage+".x", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	inc := incidentOf(fixture.Site, "after-bad")
	publish(t, e.js, bus.IncidentsSubject(fixture.Site), inc)
	if f := next(t, frames); f.Event != console.UpdateIncident || !strings.Contains(f.Data, inc.ID) {
		t.Fatalf("got %+v, want the incident after the bad message", f)
	}
	for kind, want := range map[string]float64{"incident": 1, "triage": 1} {
		deadline := time.Now().Add(5 * time.Second)
		for counterValue(t, e.reg, "c981_console_stream_bad_messages_total", map[string]string{"kind": kind}) != want {
			if time.Now().After(deadline) {
				t.Fatalf("c981_console_stream_bad_messages_total{kind=%q} = %g, want %g", kind,
					counterValue(t, e.reg, "c981_console_stream_bad_messages_total", map[string]string{"kind": kind}), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestStreamHeartbeatAndTimeouts: heartbeats flow on an idle stream, and
// the server's read and write timeouts (for ordinary requests) do not cut
// it.
func TestStreamHeartbeatAndTimeouts(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	console.SetStreamLimits(e.svc, 50*time.Millisecond, console.StreamBuffer, 10*time.Second)
	srv := httptest.NewUnstartedServer(e.svc.Handler())
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	frames := openStream(t, srv.URL, demoAnalystToken)
	start := time.Now()
	beats := 0
	for time.Since(start) < time.Second {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended after %s (%d heartbeats)", time.Since(start), beats)
			}
			if f.Comment == "heartbeat" {
				beats++
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	if beats < 5 {
		t.Errorf("%d heartbeats in 1s at a 50ms interval", beats)
	}
	inc := incidentOf(fixture.Site, "after-timeouts")
	publish(t, e.js, bus.IncidentsSubject(fixture.Site), inc)
	if f := next(t, frames); !strings.Contains(f.Data, inc.ID) {
		t.Fatalf("got %+v after the server timeouts passed", f)
	}
}

// blockingWriter is a ResponseWriter whose writes after the first block
// until release is closed: a client that stopped reading.
type blockingWriter struct {
	hdr     http.Header
	mu      sync.Mutex
	writes  int
	body    strings.Builder
	release chan struct{}
	blocked chan struct{}
}

func (w *blockingWriter) Header() http.Header { return w.hdr }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              {}
func (w *blockingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes++
	n := w.writes
	w.mu.Unlock()
	if n == 2 {
		close(w.blocked)
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}

// TestStreamSlowClient: a client that stops reading is disconnected once
// its buffer overflows, counted, and its neighbours still get every update.
func TestStreamSlowClient(t *testing.T) {
	const buffer = 4
	e := newStreamEnv(t, console.Config{}, false)
	console.SetStreamLimits(e.svc, time.Hour, buffer, 10*time.Second)
	srv := httptest.NewServer(e.svc.Handler())
	t.Cleanup(srv.Close)
	fast := openStream(t, srv.URL, demoAnalystToken)

	slow := &blockingWriter{hdr: http.Header{}, release: make(chan struct{}), blocked: make(chan struct{})}
	req := httptest.NewRequest(http.MethodGet, "/api/stream", nil)
	req.Header.Set("Authorization", "Bearer "+demoAnalystToken)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Handler().ServeHTTP(slow, req) }()

	// The first update blocks the slow client's handler in Write; the
	// next buffer+1 overflow its queue. The fast client reads each update
	// before the next is published, so its own queue never fills however
	// slowly the machine schedules its handler.
	for i := range buffer + 3 {
		inc := incidentOf(fixture.Site, "burst-"+string(rune('a'+i)))
		publish(t, e.js, bus.IncidentsSubject(fixture.Site), inc)
		if i == 0 {
			select {
			case <-slow.blocked:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow client never wrote its first update")
			}
		}
		if f := next(t, fast); !strings.Contains(f.Data, inc.ID) {
			t.Fatalf("fast client got %+v, want incident %s", f, inc.ID)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, e.reg, "c981_console_stream_slow_disconnects_total", nil) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the slow client was not counted as disconnected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(slow.release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow client's handler did not end")
	}
	if !strings.Contains(slow.body.String(), "event: overflow") {
		t.Errorf("the slow client was not told why: %q", slow.body.String())
	}
	if n := counterValue(t, e.reg, "c981_console_stream_clients", nil); n != 1 {
		t.Errorf("c981_console_stream_clients = %g, want 1 (the fast client)", n)
	}
}

// TestStreamWriteTimeout: a client that stops reading over TCP is
// disconnected when a write times out, counted as too slow.
func TestStreamWriteTimeout(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	console.SetStreamLimits(e.svc, time.Hour, console.StreamBuffer, 300*time.Millisecond)
	srv := httptest.NewServer(e.svc.Handler())
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	if _, err := fmt.Fprintf(conn, "GET /api/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", demoAnalystToken); err != nil {
		t.Fatal(err)
	}
	// Read nothing; send updates until the socket buffers are full.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; counterValue(t, e.reg, "c981_console_stream_slow_disconnects_total", nil) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the client that stopped reading was never disconnected")
		}
		inc := incidentOf(fixture.Site, fmt.Sprint("big-", i))
		inc.Title = strings.Repeat("x", 256<<10)
		data, err := event.Marshal([]event.Incident{inc})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.bus.NC.Publish(bus.IncidentsSubject(fixture.Site), data); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for counterValue(t, e.reg, "c981_console_stream_clients", nil) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the timed-out client is still registered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamShutdown: streams end with a shutdown event when the console
// stops, and Run returns without waiting for them.
func TestStreamShutdown(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- e.svc.Run(ctx) }()
	select {
	case <-e.svc.Ready():
	case err := <-errc:
		t.Fatal(err)
	}
	frames := openStream(t, "http://"+e.svc.Addr(), demoAnalystToken)
	start := time.Now()
	cancel()
	if f := next(t, frames); f.Event != "shutdown" {
		t.Errorf("got %+v, want the shutdown event", f)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s with an open stream", d)
	}
}

// TestStreamClientLeaves: a client that disconnects is unregistered; the
// hub then drops its bus subscriptions and takes them again for the next
// client.
func TestStreamClientLeaves(t *testing.T) {
	e := newStreamEnv(t, console.Config{}, false)
	srv := httptest.NewServer(e.svc.Handler())
	t.Cleanup(srv.Close)
	for round := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/stream", nil)
		req.Header.Set("Authorization", "Bearer "+demoAnalystToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		frames := readSSE(resp.Body)
		<-frames // connected
		inc := incidentOf(fixture.Site, fmt.Sprint("round-", round))
		publish(t, e.js, bus.IncidentsSubject(fixture.Site), inc)
		if f := next(t, frames); !strings.Contains(f.Data, inc.ID) {
			t.Fatalf("round %d: got %+v", round, f)
		}
		cancel()
		_ = resp.Body.Close()
		deadline := time.Now().Add(5 * time.Second)
		for counterValue(t, e.reg, "c981_console_stream_clients", nil) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the client is still registered after it left", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestStreamUnavailable: without the bus the route answers 503; query
// parameters are refused; a token is required.
func TestStreamUnavailable(t *testing.T) {
	svc := newService(t, console.Config{Addr: "127.0.0.1:0"})
	h := svc.Handler()
	for _, tc := range []struct {
		name, path string
		code       int
	}{
		{"no bus", "/api/stream", http.StatusServiceUnavailable},
		{"query", "/api/stream?site=x", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, tc.path, "")
			if rec.Code != tc.code || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("GET %s: %d %s %s", tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
		})
	}
	e := newStreamEnv(t, console.Config{}, false)
	if rec := get(e.svc.Handler(), "/api/stream", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/stream without a token: %d", rec.Code)
	}
	if rec := get(e.svc.Handler(), "/api/stream", "wrong-token-of-nobody-0123"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/stream with a wrong token: %d", rec.Code)
	}
}

// The stream's site scoping is tested by TestStreamScopedDelivery.
func init() { coveredElsewhere = append(coveredElsewhere, "GET /api/stream") }
