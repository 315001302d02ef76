package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

const site = "demo-plant"

// env is a real JetStream server and a fresh ClickHouse database.
type env struct {
	bus  *bustest.Env
	addr string
	db   string
	conn driver.Conn // direct connection for assertions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	addr, db := chtest.Database(t)
	b := bustest.Start(t)
	conn, err := chstore.Open(context.Background(), chstore.ConnConfig{Addrs: []string{addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &env{bus: b, addr: addr, db: db, conn: conn}
}

// config is a store configuration tuned for tests: small batches, short
// waits, quick redelivery.
func (e *env) config(addr string) Config {
	return Config{
		ClickHouse:    chstore.ConnConfig{Addrs: []string{addr}, Database: e.db, DialTimeout: time.Second, ReadTimeout: 10 * time.Second},
		BatchRows:     1000,
		BatchWait:     100 * time.Millisecond,
		MaxAckPending: 100,
		AckWait:       2 * time.Second,
		RetryMin:      20 * time.Millisecond,
		RetryMax:      200 * time.Millisecond,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return discardLogger()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is a started Service.
type running struct {
	svc    *Service
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// start runs a Service; hook (optional) is installed as afterInsert, and
// each opt is applied before Run.
func (e *env) start(t *testing.T, cfg Config, conn driver.Conn, migrations fs.FS, hook func(string) error, opts ...func(*Service)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	svc, err := New(cfg, Deps{JS: e.bus.JS, Conn: conn, Migrations: migrations, Logger: testLogger(t), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	svc.afterInsert = hook
	for _, o := range opts {
		o(svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the service and waits for Run to return nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
}

func counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// demoEvent is a realistic enriched Modbus write from hmi-01 to plc-10x.
func demoEvent(batch, i int) event.Event {
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(time.Duration(batch*1000+i) * time.Millisecond)
	plc := 11 + i%3
	raw := fmt.Sprintf("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.%d proto=tcp dport=502 app=modbus op=write seq=%d-%d", plc, batch, i)
	return event.Event{
		ID: event.NewID("store-test", raw), Time: ts, ReceivedAt: ts.Add(150 * time.Millisecond),
		Site: site, Source: "syslog-udp", Format: "rfc3164", Transport: "udp", Peer: "10.20.1.1:514",
		Host: "fw-cell-01", App: "fw", Facility: 16, Severity: 6,
		Message: raw[strings.Index(raw, "action="):], Kind: event.KindFlow, Action: "allow",
		SrcIP: "10.20.2.11", DstIP: fmt.Sprintf("10.20.1.%d", plc), DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: "write",
		Fields:       map[string]string{"action": "allow", "src": "10.20.2.11", "dst": fmt.Sprintf("10.20.1.%d", plc), "proto": "tcp", "dport": "502", "app": "modbus", "op": "write", "seq": fmt.Sprintf("%d-%d", batch, i)},
		Raw:          raw,
		Src:          event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2},
		Dst:          event.Endpoint{IP: fmt.Sprintf("10.20.1.%d", plc), Known: true, AssetID: fmt.Sprintf("demo-plant/plc-10%d", plc-10), Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		Flow:         event.Flow{CrossZone: true, Allowed: true, Conduit: "supervisory-control", FlowID: "modbus-hmi-plc"},
		ModelVersion: 1,
	}
}

func demoEvents(batch, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = demoEvent(batch, i)
	}
	return evs
}

// eventDecoder decodes a batch of events as the events writer does
// (decodeEvents), into a fresh slab.
func eventDecoder(data []byte) ([]record, error) {
	return decodeEvents(data, new(eventSlab))
}

func publish[T any](t *testing.T, js jetstream.JetStream, subject, msgID string, recs []T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.PublishRecords(ctx, js, subject, msgID, recs); err != nil {
		t.Fatal(err)
	}
}

func publishRaw(t *testing.T, js jetstream.JetStream, subject, msgID string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Publish(ctx, js, subject, msgID, 1, data); err != nil {
		t.Fatal(err)
	}
}

func (e *env) count(t *testing.T, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := e.conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// consumerState sums the store consumers' undelivered and unacknowledged
// messages and redeliveries.
func (e *env) consumerState(t *testing.T) (pending, ackPending, redelivered uint64) {
	t.Helper()
	ctx := context.Background()
	for _, tb := range tables() {
		c, err := e.bus.JS.Consumer(ctx, tb.stream, tb.durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			// Not created yet by Run: everything in the stream is pending.
			s, err := e.bus.JS.Stream(ctx, tb.stream)
			if err != nil {
				t.Fatalf("stream %s: %v", tb.stream, err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatalf("stream %s info: %v", tb.stream, err)
			}
			pending += info.State.Msgs
			continue
		}
		if err != nil {
			t.Fatalf("consumer %s: %v", tb.durable, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatalf("consumer %s info: %v", tb.durable, err)
		}
		pending += info.NumPending
		ackPending += uint64(info.NumAckPending)
		redelivered += uint64(info.NumRedelivered)
	}
	return
}

// waitDrained waits until every store consumer has no undelivered and no
// unacknowledged message.
func (e *env) waitDrained(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() (bool, string) {
		p, a, _ := e.consumerState(t)
		return p == 0 && a == 0, fmt.Sprintf("%d undelivered, %d unacknowledged", p, a)
	})
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// migrationsWith returns the real migrations plus extra files.
func migrationsWith(t *testing.T, extra map[string]string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(Migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(Migrations(), p)
		out[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, sql := range extra {
		out[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return out
}

// proxy is a TCP forwarder to ClickHouse that can be switched off: while
// down it refuses service (accepts and closes at once) and cuts the
// connections in flight, as a crashed or restarting server would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string, up bool) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, up: up, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.setUp(false) })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.up {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
	}
}
