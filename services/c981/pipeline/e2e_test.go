package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/chtest"
)

const repo = "../../.."

// TestEndToEnd runs every stage in-process on a real embedded JetStream and
// a real ClickHouse, sends the demo scenario over UDP and TCP syslog, and
// checks events, dead letters, alerts, incidents and plans in ClickHouse and
// through the console API: with the default inline enrichment (ingest
// publishes enriched batches straight to C981_EVENTS, C981_RAW stays
// empty) and with raw_stream (through C981_RAW and the enrich consumer).
func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rawStream bool
	}{
		{"inline enrichment", false},
		{"raw stream", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testEndToEnd(t, tc.rawStream) })
	}
}

func testEndToEnd(t *testing.T, rawStream bool) {
	addr, db := chtest.Database(t)
	cfg := Default()
	cfg.DataDir = t.TempDir()
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.ClickHouse.Addrs = []string{addr}
	cfg.ClickHouse.Database = db
	cfg.Ingest.Listeners[0].Addr = "127.0.0.1:0"
	cfg.Ingest.Listeners[1].Addr = "127.0.0.1:0"
	cfg.Enrich.Sites = []string{repo + "/deploy/demo/site.yaml"}
	cfg.Respond.Sites = cfg.Enrich.Sites
	cfg.Console.Sites = cfg.Enrich.Sites
	cfg.Correlate.RulesDir = repo + "/rules"
	cfg.Respond.PlaybooksDir = repo + "/playbooks"
	cfg.Console.Addr = "127.0.0.1:0"
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.Store.BatchWait = 200 * time.Millisecond
	cfg.RawStream = rawStream

	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := NewAllInOne(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = p.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if runErr != nil {
			t.Errorf("pipeline Run: %v", runErr)
		}
	})
	var ready Ready
	select {
	case ready = <-p.Ready():
	case <-done:
		t.Fatalf("pipeline stopped: %v", runErr)
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline not ready after 60s")
	}
	lines := readLines(t, repo+"/deploy/demo/scenario.log")
	var tcpAddr, udpAddr string
	for _, l := range ready.Listeners {
		switch l.Proto {
		case "tcp":
			tcpAddr = l.Addr
		case "udp":
			udpAddr = l.Addr
		}
	}
	// The first half goes over UDP, the rest over TCP.
	half := len(lines) / 2
	sendUDP(t, udpAddr, lines[:half])
	sendTCP(t, tcpAddr, lines[half:])

	conn, err := chtest.Open(addr, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Every line that parses is stored once; the malformed ones are dead letters.
	const malformed = 2
	wantEvents := uint64(len(lines) - malformed)
	waitCount(t, conn, "SELECT count() FROM events FINAL", wantEvents)
	waitCount(t, conn, "SELECT uniqExact(id) FROM events", wantEvents)
	waitCount(t, conn, "SELECT count() FROM dead_letters FINAL WHERE stage = 'ingest'", malformed)
	var reason string
	if err := conn.QueryRow(ctx, "SELECT reason FROM dead_letters FINAL WHERE payload = '<13'").Scan(&reason); err != nil || reason == "" {
		t.Fatalf("dead letter of '<13' has no reason (%v)", err)
	}
	var transports []string
	if err := conn.QueryRow(ctx, "SELECT groupUniqArray(transport) FROM events").Scan(&transports); err != nil {
		t.Fatal(err)
	}
	slices.Sort(transports)
	if !slices.Equal(transports, []string{"tcp", "udp"}) {
		t.Fatalf("transports %v, want tcp and udp", transports)
	}

	// The SIS write is a critical incident on sis-01 with OT-003.
	sis := waitIncident(t, conn, "demo-plant/sis-01", "OT-003")
	if sis.severity != "critical" || !sis.targetSafety {
		t.Fatalf("SIS incident = %+v, want critical with a safety target", sis)
	}
	// The program download to plc-102 from the EWS outside a window: OT-001.
	plc := waitIncident(t, conn, "demo-plant/plc-102", "OT-001")
	if plc.alerts < 2 {
		t.Fatalf("plc-102 incident has %d alerts, want the 2 download events", plc.alerts)
	}
	// The enterprise workstation writing straight to plc-101: conduit violation.
	waitIncident(t, conn, "demo-plant/plc-101", "OT-006")

	// The SIS incident's plan: no step may run automatically on a safety target.
	waitFor(t, 30*time.Second, "plans for the SIS incident", func() bool {
		var n uint64
		_ = conn.QueryRow(ctx, "SELECT count() FROM actions FINAL WHERE incident_id = ?", sis.id).Scan(&n)
		return n > 0
	})
	rows, err := conn.Query(ctx, "SELECT playbook_id, step_id, kind, class, toString(decision), reason FROM actions FINAL WHERE incident_id = ? ORDER BY playbook_id, step_index", sis.id)
	if err != nil {
		t.Fatal(err)
	}
	var books []string
	for rows.Next() {
		var pb, step, kind, class, decision, reason string
		if err := rows.Scan(&pb, &step, &kind, &class, &decision, &reason); err != nil {
			t.Fatal(err)
		}
		books = append(books, pb)
		if reason == "" {
			t.Errorf("%s/%s has no reason", pb, step)
		}
		if class == "intrusive" && decision == "allowed" {
			t.Errorf("%s/%s: intrusive step allowed on a safety target", pb, step)
		}
	}
	rows.Close()
	if !slices.Contains(books, "PB-OT-02") {
		t.Fatalf("SIS incident plans come from %v, want PB-OT-02", books)
	}

	// The console serves the incidents from ClickHouse.
	var list struct {
		Incidents []struct {
			ID      string   `json:"id"`
			Key     string   `json:"key"`
			RuleIDs []string `json:"rule_ids"`
		} `json:"incidents"`
	}
	getJSON(t, ready.ConsoleURL+"/api/incidents?site=demo-plant&limit=100", &list)
	var found bool
	for _, inc := range list.Incidents {
		if inc.ID == sis.id {
			found = true
		}
	}
	if !found {
		t.Fatalf("console list does not show the SIS incident %s: %+v", sis.id, list)
	}
	var detail map[string]any
	getJSON(t, ready.ConsoleURL+"/api/incidents/"+sis.id, &detail)
	for _, k := range []string{"incident", "alerts", "events", "plans"} {
		if _, ok := detail[k]; !ok {
			t.Fatalf("incident detail has no %q: %v", k, keys(detail))
		}
	}
	for _, u := range []string{ready.ConsoleURL + "/healthz", ready.TelemetryURL + "/healthz", ready.TelemetryURL + "/metrics"} {
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", u, resp, err)
		}
		resp.Body.Close()
	}
	// The events took the configured path: C981_RAW holds the parsed
	// batches only with raw_stream.
	if n := streamMsgs(t, ready.NATSURL, bus.StreamRaw); (n > 0) != rawStream {
		t.Errorf("raw_stream %v: %s holds %d messages", rawStream, bus.StreamRaw, n)
	}
	// Every stage exports its metrics; the malformed lines were counted.
	resp, err := http.Get(ready.TelemetryURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"c981_ingest_received_lines_total", "c981_ingest_malformed_total", "c981_enrich_events_total",
		"c981_correlate_alerts_total", "c981_store_rows_inserted_total", "c981_respond_plans_total", "c981_console_http_requests_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
}

// streamMsgs returns the number of messages in stream name on the NATS
// server at url.
func streamMsgs(t *testing.T, url, name string) uint64 {
	t.Helper()
	nc, js, err := bus.Connect(url, "e2e-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info.State.Msgs
}

type incidentRow struct {
	id, severity string
	alerts       uint64
	targetSafety bool
}

// waitIncident waits for the latest version of the incident whose key is
// key to include rule.
func waitIncident(t *testing.T, conn driver.Conn, key, rule string) incidentRow {
	t.Helper()
	var row incidentRow
	waitFor(t, 60*time.Second, fmt.Sprintf("incident %s with %s", key, rule), func() bool {
		var (
			id, sev string
			rules   []string
			n       uint32
			safety  uint8
		)
		err := conn.QueryRow(context.Background(), `
			SELECT toString(id), toString(argMax(severity, version)), argMax(rule_ids, version),
			       argMax(alert_count, version), argMax(target_safety, version)
			FROM incidents WHERE key = ? GROUP BY id ORDER BY max(version) DESC LIMIT 1`, key).
			Scan(&id, &sev, &rules, &n, &safety)
		if err != nil || !slices.Contains(rules, rule) {
			return false
		}
		row = incidentRow{id: id, severity: sev, alerts: uint64(n), targetSafety: safety == 1}
		return true
	})
	return row
}

func waitCount(t *testing.T, conn driver.Conn, q string, want uint64) {
	t.Helper()
	var got uint64
	waitFor(t, 60*time.Second, q, func() bool {
		if err := conn.QueryRow(context.Background(), q).Scan(&got); err != nil {
			t.Logf("%s: %v", q, err)
			return false
		}
		return got == want
	})
	// Stay equal: nothing arrives twice late.
	time.Sleep(500 * time.Millisecond)
	if err := conn.QueryRow(context.Background(), q).Scan(&got); err != nil || got != want {
		t.Fatalf("%s = %d (%v), want %d", q, got, err, want)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func sendUDP(t *testing.T, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, l := range lines {
		if _, err := c.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
}

func sendTCP(t *testing.T, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
