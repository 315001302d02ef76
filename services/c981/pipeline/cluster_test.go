package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/c981/loadgen"
	"github.com/c981/c981/services/c981/verify"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/respond/audit"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/chtest"
)

// The load of TestClusterPipelineKillNode: the same sequence-numbered
// records (loadgen "mix", event times fixed by the sequence number) in the
// fault-free run and in the cluster run, so their incidents compare.
const (
	clusterRun     = "cluster"
	clusterRecords = 4500
	clusterRate    = 1500 // records per second: the load lasts 3 s
)

// clusterNode is one in-process nats-server of the test cluster, with the
// options to start it again on the same store and ports.
type clusterNode struct {
	name      string
	port      int
	clusterP  int
	store     string
	routes    string
	clustered bool
	mu        sync.Mutex
	srv       *server.Server
}

// launch creates the server and starts it without waiting for it.
func (n *clusterNode) launch() error {
	opts := &server.Options{
		ServerName: n.name, Host: "127.0.0.1", Port: n.port,
		JetStream: true, StoreDir: n.store, MaxPayload: 8 << 20,
		NoLog: true, NoSigs: true,
	}
	if n.clustered {
		opts.Cluster = server.ClusterOpts{Name: "c981", Host: "127.0.0.1", Port: n.clusterP}
		opts.Routes = server.RoutesFromStr(n.routes)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
	go srv.Start()
	return nil
}

// ready waits until the server accepts clients.
func (n *clusterNode) ready() error {
	n.mu.Lock()
	srv := n.srv
	n.mu.Unlock()
	if !srv.ReadyForConnections(20 * time.Second) {
		return fmt.Errorf("%s not ready", n.name)
	}
	return nil
}

func (n *clusterNode) stop() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// startNodes starts n JetStream servers, routed into one cluster when n > 1.
func startNodes(t *testing.T, n int) []*clusterNode {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	var nodes []*clusterNode
	for i := range n {
		nodes = append(nodes, &clusterNode{name: fmt.Sprintf("n%d", i+1), port: ports[i], clusterP: ports[n+i],
			store: t.TempDir(), routes: strings.Join(routes, ","), clustered: n > 1})
	}
	for _, node := range nodes {
		if err := node.launch(); err != nil { // routes need their peers: start them together
			t.Fatal(err)
		}
	}
	for _, node := range nodes {
		if err := node.ready(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, node := range nodes {
			node.stop()
		}
	})
	return nodes
}

// freePorts reserves loopback ports for servers to take.
var freePorts = bustest.FreePorts

// clusterOutcome is what one run stored.
type clusterOutcome struct {
	report    *verify.Report
	incidents []string
}

// runPipeline runs ingest, enrich, correlate, store and respond as
// separate stage runners (RunStage, as `c981 <stage>` does) on nodes NATS
// servers with Rn streams and key-value buckets and a fresh ClickHouse
// database, sends the load over syslog TCP and, when kill is set, kills
// the node leading C981_RAW a third into the load and restarts it a
// second later. It returns once every record is stored and the incidents
// have settled.
func runPipeline(t *testing.T, nodes int, kill bool, baseTime time.Time) clusterOutcome {
	t.Helper()
	addr, db := chtest.Database(t)
	ns := startNodes(t, nodes)
	var urls []string
	for _, n := range ns {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.port))
	}
	syslogAddr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])

	cfg := Default()
	cfg.DataDir = t.TempDir()
	cfg.Log.Level = "warn"
	cfg.NATS.URL = strings.Join(urls, ",")
	cfg.Streams.Replicas = nodes
	cfg.ClickHouse.Addrs = []string{addr}
	cfg.ClickHouse.Database = db
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.Ingest.Listeners = cfg.Ingest.Listeners[:1]
	cfg.Ingest.Listeners[0].Addr = syslogAddr
	cfg.Enrich.Sites = []string{repo + "/deploy/demo/site.yaml"}
	cfg.Correlate.RulesDir = repo + "/rules"
	cfg.Correlate.Store.Replicas = nodes
	cfg.Correlate.State.Replicas = nodes
	cfg.Respond.PlaybooksDir = repo + "/playbooks"
	cfg.Respond.Replicas = nodes
	cfg.Respond.Sites = cfg.Enrich.Sites
	cfg.Store.BatchWait = 200 * time.Millisecond
	// A message whose acknowledgement died with the node comes back after
	// AckWait: short, so that the test settles in seconds.
	cfg.Enrich.AckWait = 5 * time.Second
	cfg.Correlate.AckWait = 5 * time.Second
	cfg.Store.AckWait = 5 * time.Second
	cfg.Respond.AckWait = 5 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	phase := func(what string) {
		t.Logf("%d node(s): %s after %s", nodes, what, time.Since(began).Round(100*time.Millisecond))
	}
	nc, js, err := bus.Connect(cfg.NATS.URL, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for { // provisioning, once the cluster has elected its meta leader
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := bus.EnsureStreams(pctx, js, cfg.Streams)
		if err == nil {
			err = bus.EnsureBuckets(pctx, js, cfg.Streams)
		}
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("provision: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The schema first, so that the store stage does not start migrating
	// under load.
	mconn, err := openClickHouse(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	_ = mconn.Close()

	stageCtx, stopStages := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	stages := []string{"store", "respond", "correlate", "enrich", "ingest"}
	health := map[string]string{}
	for i, port := range freePorts(t, len(stages)) {
		health[stages[i]] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	for _, stage := range stages {
		scfg := cfg
		scfg.MetricsAddr = health[stage]
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A stage that stops on an error is started again a second
			// later, as its container's restart policy does.
			for {
				err := RunStage(stageCtx, stage, scfg, log.With("stage", stage))
				if stageCtx.Err() != nil {
					return
				}
				t.Logf("stage %s stopped (%v); restarting it", stage, err)
				select {
				case <-stageCtx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}()
	}
	defer func() { stopStages(); wg.Wait() }()
	// Every stage healthy (/healthz 200: connected, its consumers
	// created, the store's ClickHouse reachable) before the load starts.
	for _, stage := range stages {
		waitFor(t, 2*time.Minute, stage+" healthy", func() bool {
			resp, err := http.Get("http://" + health[stage] + "/healthz")
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	durables := [][2]string{{bus.StreamRaw, bus.ConsumerEnrich}, {bus.StreamEvents, bus.ConsumerCorrelate},
		{bus.StreamEvents, bus.ConsumerStoreEvents}, {bus.StreamAlerts, bus.ConsumerStoreAlerts},
		{bus.StreamIncidents, bus.ConsumerStoreIncidents}, {bus.StreamIncidents, bus.ConsumerRespond}}
	for _, d := range durables {
		waitFor(t, 2*time.Minute, "consumer "+d[0]+"/"+d[1], func() bool {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			defer ccancel()
			_, err := js.Consumer(cctx, d[0], d[1])
			return err == nil
		})
	}
	waitFor(t, time.Minute, "ingest listening", func() bool {
		c, err := net.Dial("tcp", syslogAddr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})

	// The load, with the fault a third of the way in.
	faultDone := make(chan struct{})
	if kill {
		go func() {
			defer close(faultDone)
			time.Sleep(time.Second * clusterRecords / clusterRate / 3)
			victim := leaderOf(ctx, t, js, ns, bus.StreamRaw)
			t.Logf("killing %s, the leader of %s, under load", victim.name, bus.StreamRaw)
			victim.stop()
			time.Sleep(time.Second)
			err := victim.launch()
			if err == nil {
				err = victim.ready()
			}
			if err != nil {
				t.Errorf("restart %s: %v", victim.name, err)
				return
			}
			t.Logf("%s restarted", victim.name)
		}()
	} else {
		close(faultDone)
	}
	phase("stages up")
	sendRecords(t, ctx, syslogAddr, baseTime)
	<-faultDone
	phase("load sent")

	conn, err := chtest.Open(addr, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rep *verify.Report
	waitFor(t, 2*time.Minute, "every record stored", func() bool {
		rep, err = verify.Verify(ctx, conn, verify.Options{Run: clusterRun, Expect: clusterRecords})
		return err == nil && rep.Stored >= clusterRecords
	})
	// Incidents trail the events; a message whose acknowledgement was lost
	// comes back after AckWait: wait until the correlator's and the
	// store's consumers are drained and the incidents agree in three reads
	// a second apart.
	phase("every record stored")
	waitFor(t, 2*time.Minute, "consumers drained", func() bool { return drained(ctx, js) })
	phase("consumers drained")
	var inc []string
	stable := 0
	waitFor(t, 2*time.Minute, "incidents settled", func() bool {
		next := storedIncidents(t, ctx, conn)
		if slices.Equal(next, inc) && len(next) > 0 {
			stable++
		} else {
			stable = 0
		}
		inc = next
		if stable < 3 {
			time.Sleep(400 * time.Millisecond) // reads ~half a second apart
		}
		return stable >= 3
	})
	phase("incidents settled")
	rep, err = verify.Verify(ctx, conn, verify.Options{Run: clusterRun, Expect: clusterRecords})
	if err != nil {
		t.Fatal(err)
	}
	if nodes > 1 {
		checkReplicas(t, ctx, js, cfg, nodes)
	}
	return clusterOutcome{report: rep, incidents: inc}
}

// sendRecords writes the load to ingest's TCP listener at clusterRate,
// reconnecting from the first record not written if the connection fails.
func sendRecords(t *testing.T, ctx context.Context, addr string, baseTime time.Time) {
	t.Helper()
	step := time.Second / clusterRate
	start := time.Now()
	var conn net.Conn
	var w *bufio.Writer
	line := make([]byte, 0, 1024)
	for seq := uint64(1); seq <= clusterRecords; seq++ {
		if due := start.Add(time.Duration(seq) * step); time.Until(due) > 0 {
			if w != nil {
				if err := w.Flush(); err != nil {
					t.Fatalf("flush before record %d: %v", seq, err)
				}
			}
			time.Sleep(time.Until(due))
		}
		if conn == nil {
			var err error
			if conn, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
				t.Fatalf("dial ingest: %v", err)
			}
			w = bufio.NewWriterSize(conn, 64<<10)
		}
		line = loadgen.Line(line[:0], "mix", clusterRun, seq, baseTime.Add(time.Duration(seq)*step))
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			t.Fatalf("write record %d: %v", seq, err)
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
}

// leaderOf returns the node leading stream.
func leaderOf(ctx context.Context, t *testing.T, js jetstream.JetStream, ns []*clusterNode, stream string) *clusterNode {
	t.Helper()
	// A JetStream request nobody answers (an election) waits for its
	// context: bound it.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Error(err)
		return ns[0]
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Errorf("stream %s has no cluster info (%v)", stream, err)
		return ns[0]
	}
	for _, n := range ns {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	t.Errorf("leader %q of %s is not one of the nodes", info.Cluster.Leader, stream)
	return ns[0]
}

// drained reports whether no durable consumer upstream of the stored
// incidents (every one but respond's and those of the response streams)
// has a message left to deliver or awaiting acknowledgement.
func drained(ctx context.Context, js jetstream.JetStream) bool {
	// A JetStream request nobody answers (an election) waits for its
	// context: bound it.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	streams := js.StreamNames(ctx)
	for name := range streams.Name() {
		switch name {
		case bus.StreamActions, bus.StreamApprovals, bus.StreamAudit:
			continue
		}
		st, err := js.Stream(ctx, name)
		if err != nil {
			return false
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Config.Durable == "" || strings.HasPrefix(ci.Name, "respond") {
				continue
			}
			if ci.NumPending > 0 || ci.NumAckPending > 0 {
				return false
			}
		}
		if consumers.Err() != nil {
			return false
		}
	}
	return streams.Err() == nil
}

// checkReplicas fails for a contract stream or key-value bucket (the
// streams, the triage bucket, the correlator's incident and state buckets,
// respond's audit chains and approvals bucket)
// that is not replicated on every node, and logs the other streams that
// are not (created by a stage with its own settings).
func checkReplicas(t *testing.T, ctx context.Context, js jetstream.JetStream, cfg Config, nodes int) {
	t.Helper()
	// A JetStream request nobody answers (an election) waits for its
	// context: bound it.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	orDefault := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	contract := map[string]bool{
		"KV_" + orDefault(cfg.Correlate.Store.Bucket, correlate.DefaultBucket):      true,
		"KV_" + orDefault(cfg.Correlate.State.Bucket, correlate.DefaultStateBucket): true,
		// respond's own: the audit chains and the approvals bucket.
		audit.Stream:            true,
		"KV_" + bus.KVApprovals: true,
	}
	for _, c := range bus.StreamConfigs(cfg.Streams) {
		contract[c.Name] = true
	}
	for _, b := range bus.BucketConfigs(cfg.Streams) {
		contract["KV_"+b.Bucket] = true
	}
	var other []string
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		name, r := info.Config.Name, info.Config.Replicas
		switch {
		case r == nodes:
			delete(contract, name)
		case contract[name]:
			t.Errorf("stream %s is R%d on a %d-node cluster", name, r, nodes)
			delete(contract, name)
		default:
			other = append(other, fmt.Sprintf("%s R%d", name, r))
		}
	}
	if err := streams.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range contract {
		t.Errorf("stream %s does not exist", name)
	}
	if len(other) > 0 {
		slices.Sort(other)
		t.Logf("not replicated on every node (created by a stage with its own settings): %s", strings.Join(other, ", "))
	}
}

// storedIncidents lists the stored incidents, one sorted line each.
func storedIncidents(t *testing.T, ctx context.Context, conn driver.Conn) []string {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT key, arrayStringConcat(arraySort(rule_ids), ','), alert_count, toString(severity), risk
		FROM incidents FINAL ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var key, rules, sev string
		var n uint32
		var risk uint8
		if err := rows.Scan(&key, &rules, &n, &sev, &risk); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s rules=%s alerts=%d severity=%s risk=%d", key, rules, n, sev, risk))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestClusterPipelineKillNode runs every stage - ingest, enrich,
// correlate, store and respond, each its own stage runner with its own
// connection - against a three-node NATS cluster with R3 streams and
// key-value buckets and a real ClickHouse, kills the node leading C981_RAW
// during the load and restarts it: every record is stored exactly once
// (by sequence number, after FINAL) and the incidents equal those of the
// same load through a fault-free single-node run.
func TestClusterPipelineKillNode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	chtest.Addr(t)
	baseTime := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	start := time.Now()
	base := runPipeline(t, 1, false, baseTime)
	t.Logf("fault-free single node: %s(%d incidents, %s)", base.report.Text(), len(base.incidents), time.Since(start).Round(time.Second))
	start = time.Now()
	got := runPipeline(t, 3, true, baseTime)
	t.Logf("three nodes, one killed: %s(%d incidents, %s)", got.report.Text(), len(got.incidents), time.Since(start).Round(time.Second))
	for name, o := range map[string]clusterOutcome{"fault-free": base, "cluster": got} {
		if r := o.report; r.Missing != 0 || r.Duplicated != 0 || r.Stored != clusterRecords {
			t.Errorf("%s run: stored %d of %d, missing %d %v, duplicated %d", name, r.Stored, clusterRecords, r.Missing, r.MissingRanges, r.Duplicated)
		}
	}
	if len(base.incidents) == 0 {
		t.Fatal("the load raised no incident: nothing to compare")
	}
	if !slices.Equal(got.incidents, base.incidents) {
		t.Errorf("incidents differ from the fault-free run (%d vs %d):\n%s", len(got.incidents), len(base.incidents), incidentDiff(base.incidents, got.incidents))
	}
}

// incidentDiff lists the lines only in want (-) or only in got (+).
func incidentDiff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			b.WriteString("- " + w + "\n")
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			b.WriteString("+ " + g + "\n")
		}
	}
	return b.String()
}
