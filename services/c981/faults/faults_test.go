package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/chserver"
	"github.com/c981/c981/services/c981/loadgen"
	"github.com/c981/c981/services/c981/verify"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/natsserver"
)

// repo is the repository root seen from this package.
const repo = "../../.."

// The load of every case: the same records (run id, sequence numbers and
// event times) so that every case's incidents can be compared with the
// fault-free baseline.
const (
	runID   = "faults"
	records = 20000
	rate    = 2000 // records per second: the load lasts 10 s
	format  = "mix"
	// faultAt is when the fault is injected after the load starts.
	faultAt = 3 * time.Second
	// settle bounds the wait for every record and incident to be stored.
	settle = 3 * time.Minute
)

// stages are the processes of a case, in start order.
var stages = []string{"store", "respond", "correlate", "enrich", "ingest"}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	// baseTime is the event time of record 0, shared by every case.
	baseTime = time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
)

// c981 builds the c981 binary once per test process.
func c981(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "c981-faults-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "c981")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// enabled skips the test unless C981_FAULTS=1 (`make faults`).
func enabled(t *testing.T) {
	t.Helper()
	if os.Getenv("C981_FAULTS") != "1" {
		t.Skip("the fault matrix runs with C981_FAULTS=1 (make faults)")
	}
}

// env is one case's deployment: a NATS server, a ClickHouse database and
// the stage processes.
type env struct {
	t        *testing.T
	dir      string
	natsPort int
	natsDir  string
	ns       *server.Server
	syslog   string
	http     string // ingest's POST /v1/events listener
	cfgPath  string
	rulesDir string
	sitePath string
	db       string
	conn     driver.Conn
	procs    map[string]*proc
	// ch is the case's private ClickHouse server (fault.privateCH), nil
	// when the case uses the shared one of CLICKHOUSE_ADDR.
	ch     *chserver.Server
	chCfg  chserver.Config
	chAddr string
}

// proc is one running stage.
type proc struct {
	cmd     *exec.Cmd
	metrics string
	exited  chan struct{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newEnv starts NATS and every stage with a fresh store and database.
// newEnv starts NATS and every stage on a fresh ClickHouse database: on
// the shared server of CLICKHOUSE_ADDR, or, with privateCH, on a server of
// the case's own that it may stop.
func newEnv(t *testing.T, privateCH bool) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), procs: map[string]*proc{}}
	var addr string
	if privateCH {
		chtest.Addr(t) // the same skip or failure as the shared cases
		e.chCfg = chserver.Config{Dir: filepath.Join(e.dir, "clickhouse"), TCPPort: freePort(t)}
		e.startClickHouse()
		t.Cleanup(func() {
			if e.ch != nil {
				_ = e.ch.Stop()
			}
		})
		addr, e.db = e.ch.Addr(), "c981_faults"
	} else {
		addr, e.db = chtest.Database(t)
	}
	e.chAddr = addr
	if privateCH {
		e.createDatabase()
	}
	e.openConn()
	t.Cleanup(func() { e.conn.Close() })
	e.natsDir = filepath.Join(e.dir, "nats")
	e.natsPort = freePort(t)
	e.startNATS()
	t.Cleanup(func() {
		if e.ns != nil {
			e.ns.Shutdown()
			e.ns.WaitForShutdown()
		}
	})

	// Rules and the site model are copies, so that a case may change them.
	e.rulesDir = filepath.Join(e.dir, "rules")
	copyDir(t, filepath.Join(repo, "rules"), e.rulesDir)
	e.sitePath = filepath.Join(e.dir, "site.yaml")
	copyFile(t, filepath.Join(repo, "deploy/demo/site.yaml"), e.sitePath)

	e.syslog = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn, format: text}
nats: {url: "nats://127.0.0.1:%d"}
clickhouse: {addrs: [%q], database: %q, create_database: true}
ingest:
  listeners:
    - {name: syslog-tcp, proto: tcp, addr: %q, site: demo-plant, format: auto, timezone: UTC}
    - {name: sensor-http, proto: http, addr: %q, site: demo-plant, format: auto, timezone: UTC, http: {tokens: [%q]}}
enrich: {sites: [%q], reload_interval: 1s}
correlate: {rules_dir: %q, reload_interval: 1s}
respond: {playbooks_dir: %q, sites: [%q]}
`, filepath.Join(e.dir, "data"), e.natsPort, addr, e.db, e.syslog, e.http, httpToken, e.sitePath, e.rulesDir,
		filepath.Join(repo, "playbooks"), e.sitePath)
	e.cfgPath = filepath.Join(e.dir, "c981.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range stages {
		e.start(s)
	}
	t.Cleanup(e.stopAll)
	return e
}

// openConn (re)opens the test's own connection to the case's database.
func (e *env) openConn() {
	e.t.Helper()
	if e.conn != nil {
		e.conn.Close()
	}
	var err error
	if e.conn, err = chtest.Open(e.chAddr, e.db); err != nil {
		e.t.Fatal(err)
	}
}

// createDatabase creates the case's database on its private server (the
// shared server's comes from chtest.Database).
func (e *env) createDatabase() {
	e.t.Helper()
	admin, err := chtest.Open(e.chAddr, "default")
	if err != nil {
		e.t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+e.db); err != nil {
		e.t.Fatal(err)
	}
}

// startClickHouse starts the case's private server on its directory and
// port (the same data after a restart).
func (e *env) startClickHouse() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := chserver.Start(ctx, e.chCfg)
	if err != nil {
		e.t.Fatalf("start private clickhouse: %v", err)
	}
	e.ch = s
}

// restartClickHouse stops the case's private server, waits down and starts
// it again on the same data and port.
func (e *env) restartClickHouse(down time.Duration) {
	e.t.Helper()
	if err := e.ch.Stop(); err != nil {
		e.t.Logf("stop clickhouse: %v", err)
	}
	e.ch = nil
	time.Sleep(down)
	e.startClickHouse()
	e.openConn() // the old connection's sockets died with the server
}

func (e *env) startNATS() {
	e.t.Helper()
	var err error
	for range 50 { // the port may take a moment to be free after a restart
		e.ns, err = natsserver.Start(natsserver.Config{Port: e.natsPort, StoreDir: e.natsDir})
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("start nats: %v", err)
}

// restartNATS stops the server and starts it again on the same store and
// port after down.
func (e *env) restartNATS(down time.Duration) {
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
	time.Sleep(down)
	e.startNATS()
}

// start runs `c981 <stage>` and waits until its /healthz answers 200.
func (e *env) start(stage string) {
	e.t.Helper()
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(e.t))
	logf, err := os.OpenFile(filepath.Join(e.dir, stage+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(c981(e.t), stage, "--config", e.cfgPath, "--metrics", metrics)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start %s: %v", stage, err)
	}
	p := &proc{cmd: cmd, metrics: metrics, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()
	e.procs[stage] = p
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.exited:
			e.t.Fatalf("%s exited at start:\n%s", stage, e.logTail(stage))
		default:
		}
		resp, err := http.Get("http://" + metrics + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not healthy after 60 s:\n%s", stage, e.logTail(stage))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig to a stage; SIGKILL and SIGTERM also wait for it to
// exit.
func (e *env) signal(stage string, sig syscall.Signal) {
	e.t.Helper()
	p := e.procs[stage]
	if err := p.cmd.Process.Signal(sig); err != nil {
		e.t.Fatalf("signal %s %v: %v", stage, sig, err)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			e.t.Fatalf("%s did not exit on %v", stage, sig)
		}
	}
}

func (e *env) stopAll() {
	for _, p := range e.procs {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for s, p := range e.procs {
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			e.t.Logf("%s did not stop on SIGTERM", s)
		}
	}
}

func (e *env) logTail(stage string) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, stage+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// send writes the case's records over TCP at the load rate: record seq
// carries event time baseTime + seq/rate, identical in every case. TCP
// write errors are retried on a new connection from the first record not
// written (ingest may be restarting).
func (e *env) send(ctx context.Context) error {
	step := time.Second / rate
	var conn net.Conn
	var w *bufio.Writer
	start := time.Now()
	line := make([]byte, 0, 1024)
	for seq := uint64(1); seq <= records; seq++ {
		if due := start.Add(time.Duration(seq) * step); time.Until(due) > 0 {
			if w != nil {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		if conn == nil {
			var err error
			if conn, err = net.DialTimeout("tcp", e.syslog, 5*time.Second); err != nil {
				return fmt.Errorf("dial ingest: %w", err)
			}
			w = bufio.NewWriterSize(conn, 64<<10)
		}
		line = loadgen.Line(line[:0], format, runID, seq, baseTime.Add(time.Duration(seq)*step))
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write record %d: %w", seq, err)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return conn.Close()
}

// httpToken is the bearer token of ingest's HTTP listener.
const httpToken = "faults-sensor-token-0123456789"

// httpBatch is the number of records per HTTP request.
const httpBatch = 200

// sendHTTP sends the same records as send (same sequence numbers and
// event times, at the same rate) as text/plain batches to POST /v1/events,
// each with the Idempotency-Key "<run>-<first seq>", retried until ingest
// acknowledges it (which it does only once JetStream stored the batch).
func (e *env) sendHTTP(ctx context.Context) error {
	step := time.Second / rate
	sender := &loadgen.HTTPSender{URL: loadgen.EventsURL(e.http, false), Token: httpToken,
		Client: &http.Client{Timeout: 10 * time.Second}, MaxBackoff: 500 * time.Millisecond}
	start := time.Now()
	body := make([]byte, 0, httpBatch*400)
	for first := uint64(1); first <= records; first += httpBatch {
		last := min(first+httpBatch-1, records)
		if due := start.Add(time.Duration(last) * step); time.Until(due) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		body = body[:0]
		for seq := first; seq <= last; seq++ {
			body = loadgen.Line(body, format, runID, seq, baseTime.Add(time.Duration(seq)*step))
			body = append(body, '\n')
		}
		if err := sender.Send(ctx, fmt.Sprintf("%s-%d", runID, first), body); err != nil {
			return fmt.Errorf("records %d..%d: %w", first, last, err)
		}
	}
	if n := sender.Retries(); n > 0 {
		e.t.Logf("%d HTTP attempts retried", n)
	}
	return nil
}

// verifyRaw checks that C981_RAW holds every record of the run exactly
// once.
func (e *env) verifyRaw(t *testing.T) {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", e.natsPort), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := loadgen.VerifyRaw(ctx, js, runID, 1, records, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("C981_RAW: %s", rep)
	} else {
		t.Logf("C981_RAW: %s", rep)
	}
}

// outcome is what a case produced.
type outcome struct {
	report    *verify.Report
	incidents []string
	twice     []string
	dead      map[string]uint64
}

// waitStored waits until every record is stored and the incidents stop
// changing, then reads the outcome.
func (e *env) waitStored(ctx context.Context, drainAll bool) outcome {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	var rep *verify.Report
	for {
		var err error
		rep, err = verify.Verify(ctx, e.conn, verify.Options{Run: runID, Expect: records})
		if err == nil && rep.Stored >= records {
			break
		}
		if ctx.Err() != nil {
			e.t.Fatalf("records not all stored after %v: %+v (err %v)", settle, rep, err)
		}
		time.Sleep(time.Second)
	}
	// A message whose acknowledgement was lost (a killed stage, a NATS
	// restart) is redelivered only after its consumer's AckWait (30 s), so
	// reads that agree for a few seconds prove nothing: first wait until
	// every consumer the incidents depend on has delivered and settled
	// everything. The response side (respond and the stores of its plans
	// and audit records) trails on its own and is only reported.
	include := incidentConsumer
	if drainAll {
		include = nil
	}
	e.waitDrained(ctx, include)
	// Incidents and plans trail the events: wait until three reads a
	// second apart agree.
	var inc []string
	stable := 0
	for stable < 3 {
		next := e.incidents(ctx)
		if slices.Equal(next, inc) && len(next) > 0 {
			stable++
		} else {
			stable = 0
		}
		inc = next
		if ctx.Err() != nil {
			e.t.Fatalf("incidents did not settle: %d", len(inc))
		}
		time.Sleep(time.Second)
	}
	rep, err := verify.Verify(ctx, e.conn, verify.Options{Run: runID, Expect: records})
	if err != nil {
		e.t.Fatal(err)
	}
	if busy, err := e.busyConsumers(nil); err == nil && busy != "" {
		e.t.Logf("backlog when the incidents settled: %s", busy)
	}
	return outcome{report: rep, incidents: inc, twice: e.executedTwice(ctx), dead: e.deadLetters(ctx)}
}

// incidentConsumer reports whether a durable consumer is upstream of the
// stored incidents (ingest to correlate to store), as opposed to the
// response side.
func incidentConsumer(stream, name string) bool {
	switch stream {
	case "C981_ACTIONS", "C981_AUDIT", "C981_APPROVALS":
		return false
	}
	return !strings.HasPrefix(name, "respond")
}

// waitDrained waits until every durable consumer that include accepts has
// no message left to deliver and none awaiting acknowledgement, in three
// reads a second apart.
func (e *env) waitDrained(ctx context.Context, include func(stream, name string) bool) {
	e.t.Helper()
	quiet := 0
	var last string
	for quiet < 3 {
		busy, err := e.busyConsumers(include)
		switch {
		case err != nil:
			quiet, last = 0, err.Error()
		case busy != "":
			quiet, last = 0, busy
		default:
			quiet++
		}
		if ctx.Err() != nil {
			e.t.Fatalf("consumers did not drain: %s", last)
		}
		time.Sleep(time.Second)
	}
}

// busyConsumers describes the durable consumers that include accepts (nil:
// all) with pending or unacknowledged messages ("" when none).
func (e *env) busyConsumers(include func(stream, name string) bool) (string, error) {
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", e.natsPort), nats.Timeout(5*time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy []string
	streams := js.StreamNames(ctx)
	for name := range streams.Name() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			return "", fmt.Errorf("stream %s: %w", name, err)
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Config.Durable == "" || (include != nil && !include(name, ci.Name)) {
				continue // KV watchers and other ephemeral consumers
			}
			if ci.NumPending > 0 || ci.NumAckPending > 0 {
				busy = append(busy, fmt.Sprintf("%s/%s pending %d ack-pending %d", name, ci.Name, ci.NumPending, ci.NumAckPending))
			}
		}
		if err := consumers.Err(); err != nil {
			return "", fmt.Errorf("consumers of %s: %w", name, err)
		}
	}
	if err := streams.Err(); err != nil {
		return "", fmt.Errorf("streams: %w", err)
	}
	return strings.Join(busy, ", "), nil
}

// incidents lists every incident's latest version: key, rules, alert
// count, severity, risk.
func (e *env) incidents(ctx context.Context) []string {
	rows, err := e.conn.Query(ctx, `SELECT key, arrayStringConcat(arraySort(rule_ids), ','), alert_count, toString(severity), risk
		FROM incidents FINAL ORDER BY key`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var key, rules, sev string
		var n uint32
		var risk uint8
		if err := rows.Scan(&key, &rules, &n, &sev, &risk); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s rules=%s alerts=%d severity=%s risk=%d", key, rules, n, sev, risk))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	// A key may have several incidents (continuations, or alerts more than
	// the incident window apart): ORDER BY key leaves their order to the
	// server, so sort the whole lines to compare runs.
	slices.Sort(out)
	return out
}

// executedTwice lists playbook steps with more than one execution record
// (done or dry run) in the audit chain.
func (e *env) executedTwice(ctx context.Context) []string {
	rows, err := e.conn.Query(ctx, `SELECT plan_id, step_id, count() AS n FROM audit FINAL
		WHERE kind = 'action' AND result IN ('done', 'dry_run')
		GROUP BY plan_id, step_id HAVING n > 1`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var plan, step string
		var n uint64
		if err := rows.Scan(&plan, &step, &n); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("plan %s step %s executed %d times", plan, step, n))
	}
	return out
}

// deadLetters counts the dead letters per stage.
func (e *env) deadLetters(ctx context.Context) map[string]uint64 {
	rows, err := e.conn.Query(ctx, `SELECT stage, count() FROM dead_letters FINAL GROUP BY stage`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var s string
		var n uint64
		if err := rows.Scan(&s, &n); err != nil {
			e.t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// fault is one case of the matrix: inject runs at faultAt while the load
// is sent; check, when set, asserts more about the outcome.
type fault struct {
	name   string
	inject func(e *env)
	check  func(t *testing.T, o outcome)
	// drainAll waits for the response side too (respond and the stores of
	// its plans and audit records) before the outcome is read, for checks
	// about respond's input.
	drainAll bool
	// viaHTTP sends the load with sendHTTP instead of over TCP.
	viaHTTP bool
	// privateCH runs the case on a ClickHouse server of its own.
	privateCH bool
}

// runCase runs one case and returns its outcome after the common checks:
// nothing missing, nothing duplicated, no step executed twice.
func runCase(t *testing.T, f fault) outcome {
	t.Helper()
	e := newEnv(t, f.privateCH)
	ctx := context.Background()
	sent := make(chan error, 1)
	send := e.send
	if f.viaHTTP {
		send = e.sendHTTP
	}
	go func() { sent <- send(ctx) }()
	if f.inject != nil {
		time.Sleep(faultAt)
		f.inject(e)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	o := e.waitStored(ctx, f.drainAll)
	t.Logf("%s: sent %d, stored %d, missing %d, duplicated %d (rows %d), %d incidents, dead letters %v",
		f.name, o.report.Sent, o.report.Stored, o.report.Missing, o.report.Duplicated, o.report.DuplicateRows, len(o.incidents), o.dead)
	// Rows re-inserted after a fault between a ClickHouse insert and its
	// acknowledgement (a NATS restart, a killed store) are at-least-once
	// delivery working as designed: the tables are ReplacingMergeTree on
	// the event id and collapse them (FINAL, merges), and ClickHouse 18.16
	// has no insert deduplication token to avoid them. So duplicates count
	// after FINAL; the raw re-inserted rows are only reported.
	if o.report.Missing != 0 || o.report.Duplicated != 0 || o.report.Unexpected != 0 {
		t.Errorf("loss or duplicates: %s", o.report.Text())
	} else if o.report.DuplicateRows != 0 {
		t.Logf("%d rows re-inserted (collapsed by ReplacingMergeTree)", o.report.DuplicateRows)
	}
	for _, s := range o.twice {
		t.Error(s)
	}
	if f.check != nil {
		f.check(t, o)
	}
	if t.Failed() {
		for _, s := range stages {
			t.Logf("--- %s log:\n%s", s, e.logTail(s))
		}
	}
	return o
}

// TestFaultMatrix runs the fault-free baseline and then each fault case on
// the same input, comparing incidents with the baseline.
func TestFaultMatrix(t *testing.T) {
	enabled(t)
	c981(t)
	var baseline []string
	t.Run("baseline", func(t *testing.T) {
		o := runCase(t, fault{name: "baseline"})
		if len(o.incidents) == 0 {
			t.Fatal("the baseline raised no incident: the comparison would prove nothing")
		}
		baseline = o.incidents
	})
	if baseline == nil {
		t.Fatal("no baseline")
	}
	var stopped *env // the case whose ClickHouse was stopped
	cases := []fault{
		// A second fault-free run: the input is identical, so anything that
		// differs here is nondeterminism of the pipeline, not a fault.
		{name: "repeat without fault"},
		{name: "nats restart", inject: func(e *env) { e.restartNATS(2 * time.Second) }},
		{name: "store stalled 15s (slow consumer)", inject: func(e *env) {
			e.signal("store", syscall.SIGSTOP)
			time.Sleep(15 * time.Second)
			e.signal("store", syscall.SIGCONT)
		}},
		// ClickHouse down for a minute while the load is sent: the store
		// holds its batches leased and retries, everything else keeps
		// running, the backlog waits in JetStream.
		{name: "clickhouse stopped 60s", privateCH: true, inject: func(e *env) {
			stopped = e
			e.restartClickHouse(60 * time.Second)
		}, check: func(t *testing.T, o outcome) {
			// The stop was felt: the store retried inserts while it lasted.
			b, err := os.ReadFile(filepath.Join(stopped.dir, "store.log"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "insert failed; retrying") {
				t.Error("the store's log has no retried insert: ClickHouse's stop went unnoticed")
			}
		}},
		{name: "reload rules and site model", inject: func(e *env) { e.reload() }},
		// respond reaches its poison message only after the incident
		// versions published before it: wait until it has drained.
		{name: "poison on every stage", drainAll: true, inject: func(e *env) { e.poison() }, check: func(t *testing.T, o outcome) {
			for _, s := range []string{"enrich", "correlate", "store", "respond"} {
				if o.dead[s] == 0 {
					t.Errorf("no dead letter from %s: %v", s, o.dead)
				}
			}
		}},
	}
	for _, s := range []string{"enrich", "correlate", "store", "respond"} {
		cases = append(cases, fault{name: "kill " + s, inject: func(e *env) {
			e.signal(s, syscall.SIGKILL)
			time.Sleep(time.Second)
			e.start(s)
		}})
	}
	// Syslog over TCP has no acknowledgement, so a killed ingest loses what
	// it had read but not published: the ingest kill runs over HTTP, which
	// answers only after JetStream stored the batch, and whose
	// Idempotency-Key makes the retry of a batch stored before the kill
	// publish the same ids (deduplicated by JetStream, then by the
	// ReplacingMergeTree tables).
	var killed *env
	cases = append(cases, fault{name: "kill ingest (HTTP load, Idempotency-Key)", viaHTTP: true, inject: func(e *env) {
		killed = e
		e.signal("ingest", syscall.SIGKILL)
		time.Sleep(time.Second)
		e.start("ingest")
	}, check: func(t *testing.T, o outcome) {
		// Beyond the stored events: the raw stream itself holds every
		// record exactly once, so the retries were deduplicated by
		// JetStream, not only by ClickHouse.
		killed.verifyRaw(t)
	}})
	for _, f := range cases {
		t.Run(f.name, func(t *testing.T) {
			o := runCase(t, f)
			if !slices.Equal(o.incidents, baseline) {
				t.Errorf("incidents differ from the fault-free run:\n%s", diff(baseline, o.incidents))
			}
		})
	}
}

// reload rewrites a rule file (same rules, new bytes) and the site model
// (same model) and sends SIGHUP to enrich: both stages reload under load.
func (e *env) reload() {
	e.t.Helper()
	files, err := filepath.Glob(filepath.Join(e.rulesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		e.t.Fatalf("rules: %v", err)
	}
	for _, f := range []string{files[0], e.sitePath} {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(f, append(b, []byte("\n# reloaded under load\n")...), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	e.signal("enrich", syscall.SIGHUP)
}

// poison publishes a message no stage can decode on the input subject of
// each stage.
func (e *env) poison() {
	e.t.Helper()
	nc, err := nats.Connect(e.ns.ClientURL())
	if err != nil {
		e.t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, subj := range []string{"c981.raw.demo-plant.poison", "c981.events.demo-plant", "c981.alerts.demo-plant", "c981.incidents.demo-plant"} {
		m := &nats.Msg{Subject: subj, Data: []byte("\xc1 not a batch"), Header: nats.Header{}}
		m.Header.Set("C981-Encoding", "msgpack")
		m.Header.Set("C981-Count", "1")
		m.Header.Set(nats.MsgIdHdr, "poison-"+subj)
		if _, err := js.PublishMsg(m); err != nil {
			e.t.Fatalf("publish poison on %s: %v", subj, err)
		}
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if de.Type().IsRegular() && strings.HasSuffix(de.Name(), ".yaml") {
			copyFile(t, filepath.Join(src, de.Name()), filepath.Join(dst, de.Name()))
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// diff lists the lines only in a (-) and only in b (+), counting repeated
// lines: a line twice in a and once in b is listed once with "-".
func diff(a, b []string) string {
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	var out []string
	for _, s := range a {
		if count[s] > 0 {
			out = append(out, "- "+s)
			count[s]--
		}
	}
	for _, s := range b {
		if count[s] < 0 {
			out = append(out, "+ "+s)
			count[s]++
		}
	}
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}
