package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// harness runs a Service against a real in-process JetStream server.
type harness struct {
	t      *testing.T
	env    *bustest.Env
	svc    *Service
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, env *bustest.Env, cfg Config) *harness {
	t.Helper()
	return startWith(t, env, cfg, nil)
}

// startWith is start with an inline enricher (Service.EnrichWith) when e
// is not nil.
func startWith(t *testing.T, env *bustest.Env, cfg Config, e Enricher) *harness {
	t.Helper()
	if env == nil {
		env = bustest.Start(t)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := New(cfg, Deps{JS: env.JS, Logger: log, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if e != nil {
		svc.EnrichWith(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, env: env, svc: svc, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("service not ready")
	}
	t.Cleanup(func() { h.stop() })
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// stop cancels Run and returns its error (once).
func (h *harness) stop() error {
	h.t.Helper()
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(15 * time.Second):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

func (h *harness) addr(name string) string {
	a := h.svc.Addrs()[name]
	if a == "" {
		h.t.Fatalf("no address for listener %s in %v", name, h.svc.Addrs())
	}
	return a
}

// waitMetric waits until the metric reaches want.
func (h *harness) waitMetric(c prometheus.Collector, want float64) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := testutil.ToFloat64(c)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("metric = %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// received is one bus message with its decoded records.
type received[T any] struct {
	subject string
	msgID   string
	count   string
	recs    []T
}

// collect reads stream from the start until it has want records, then
// checks that no further message arrives for a short while.
func collect[T any](t *testing.T, js jetstream.JetStream, stream string, want int) []received[T] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []received[T]
	n := 0
	for n < want {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("%s: got %d records, want %d: %v", stream, n, want, err)
		}
		var recs []T
		if err := event.Unmarshal(msg.Data(), &recs); err != nil {
			t.Fatalf("decode %s: %v", msg.Subject(), err)
		}
		out = append(out, received[T]{
			subject: msg.Subject(),
			msgID:   msg.Headers().Get(jetstream.MsgIDHeader),
			count:   msg.Headers().Get(bus.HeaderCount),
			recs:    recs,
		})
		n += len(recs)
	}
	if n != want {
		t.Fatalf("%s: got %d records, want %d", stream, n, want)
	}
	if msg, err := cons.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Fatalf("%s: unexpected extra message on %s", stream, msg.Subject())
	}
	return out
}

func testConfig() Config {
	return Config{
		NodeID:       "test-node",
		MaxLineBytes: 512,
		MaxWait:      20 * time.Millisecond,
		Listeners: []ListenerConfig{
			{Name: "syslog-udp", Proto: ProtoUDP, Addr: "127.0.0.1:0", Site: "demo-plant", Timezone: "Europe/Berlin"},
			{Name: "syslog-tcp", Proto: ProtoTCP, Addr: "127.0.0.1:0", Site: "demo-plant", Timezone: "Europe/Berlin"},
		},
	}
}

const (
	line3164 = "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=write"
	line5424 = `<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 - - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`
)

func sendTCP(t *testing.T, addr, data string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
}

func sendUDP(t *testing.T, addr string, datagrams ...string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := io.WriteString(c, d); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIngestEndToEnd(t *testing.T) {
	h := start(t, nil, testConfig())
	tcpAddr, udpAddr := h.addr("syslog-tcp"), h.addr("syslog-udp")
	if strings.HasSuffix(tcpAddr, ":0") || strings.HasSuffix(udpAddr, ":0") {
		t.Fatalf("Addrs did not resolve port 0: %v", h.svc.Addrs())
	}

	tooLong := "<134>Nov 26 10:00:01 host app: " + strings.Repeat("x", 600)
	goodTCP := []string{
		line3164,
		line5424,
		"<38>Nov 26 10:00:05 jump-01 sshd[9]: category=authentication user=op1 outcome=failure src=10.10.5.21 dst=172.16.35.10",
		"<134>Nov 26 10:00:06 hmi-01 hmi: after the long line",
		"<134>Nov 26 10:00:07 hmi-01 hmi: last line without newline",
	}
	sendTCP(t, tcpAddr, goodTCP[0]+"\n"+
		goodTCP[1]+"\r\n"+
		"<999>bad priority\n"+ // line 3: dead-lettered
		"\n"+ // line 4: blank, skipped
		goodTCP[2]+"\n"+
		tooLong+"\n"+ // line 6: dead-lettered
		goodTCP[3]+"\r\n"+
		goodTCP[4])
	goodUDP := []string{
		"<134>Nov 26 10:00:08 fw-idmz-01 fw: act=deny src=10.10.5.21 dst=10.20.1.11 dport=502",
		`<165>1 2026-11-26T10:00:09Z plc-101 fw - - [c981@32473 op="mode_change" dst="10.20.1.11"] mode change`,
	}
	sendUDP(t, udpAddr, goodUDP[0]+"\n", "<165>1 2003-10-11T22:1", goodUDP[1])

	wantRaw := map[string]string{} // raw -> source
	for _, l := range goodTCP {
		wantRaw[l] = "syslog-tcp"
	}
	for _, l := range goodUDP {
		wantRaw[l] = "syslog-udp"
	}
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, len(wantRaw))
	seenIDs := map[string]bool{}
	for _, m := range msgs {
		if m.count != strconv.Itoa(len(m.recs)) {
			t.Errorf("count header %q for %d records", m.count, len(m.recs))
		}
		if want := m.recs[0].ID + ":" + strconv.Itoa(len(m.recs)); m.msgID != want {
			t.Errorf("msg id %q, want %q", m.msgID, want)
		}
		for _, ev := range m.recs {
			src, ok := wantRaw[ev.Raw]
			if !ok {
				t.Errorf("unexpected or duplicate event %q", ev.Raw)
				continue
			}
			delete(wantRaw, ev.Raw)
			if seenIDs[ev.ID] || len(ev.ID) != 36 {
				t.Errorf("bad or duplicate id %q", ev.ID)
			}
			seenIDs[ev.ID] = true
			if ev.Source != src || ev.Transport != map[string]string{"syslog-tcp": "tcp", "syslog-udp": "udp"}[src] ||
				ev.Site != "demo-plant" || !strings.HasPrefix(ev.Peer, "127.0.0.1:") {
				t.Errorf("identity of %q: source %q transport %q site %q peer %q", ev.Raw, ev.Source, ev.Transport, ev.Site, ev.Peer)
			}
			if m.subject != bus.RawSubject("demo-plant", src) {
				t.Errorf("subject %q for source %s", m.subject, src)
			}
		}
	}
	if len(wantRaw) != 0 {
		t.Errorf("events missing: %v", wantRaw)
	}
	// Spot-check the parsed fields of the demo lines.
	for _, m := range msgs {
		for _, ev := range m.recs {
			switch ev.Raw {
			case line3164:
				if ev.Kind != event.KindFlow || ev.DstPort != 502 || ev.Operation != "write" || ev.Host != "fw-cell-01" ||
					!ev.Time.Equal(time.Date(ev.Time.Year(), 11, 26, 9, 0, 1, 0, time.UTC)) {
					t.Errorf("3164 demo event %+v", ev)
				}
			case line5424:
				if ev.Format != "rfc5424" || ev.DstIP != "10.20.1.12" || ev.Operation != "program_download" || ev.DstPort != 44818 {
					t.Errorf("5424 demo event %+v", ev)
				}
			}
		}
	}

	dlq := collect[event.DeadLetter](t, h.env.JS, bus.StreamDLQ, 3)
	type want struct{ reason, position, payload string }
	wantDL := map[string]want{ // by reason prefix
		"bad_pri":          {"bad_pri: PRI 999 is out of range 0-191", "tcp 127.0.0.1:* line 3", "<999>bad priority"},
		"too_long":         {"too_long: record is 631 bytes, maximum is 512", "tcp 127.0.0.1:* line 6", tooLong[:512]},
		"truncated_header": {"truncated_header: RFC 5424 header has 2 of 7 fields", "udp 127.0.0.1:*", "<165>1 2003-10-11T22:1"},
	}
	for _, m := range dlq {
		if m.subject != bus.DLQSubject(bus.StageIngest) {
			t.Errorf("dlq subject %q", m.subject)
		}
		for _, dl := range m.recs {
			reason, _, _ := strings.Cut(dl.Reason, ":")
			w, ok := wantDL[reason]
			if !ok {
				t.Errorf("unexpected dead letter %+v", dl)
				continue
			}
			delete(wantDL, reason)
			if !strings.HasPrefix(dl.Reason, w.reason) || dl.Payload != w.payload || dl.Stage != bus.StageIngest ||
				dl.Site != "demo-plant" || len(dl.ID) != 36 || seenIDs[dl.ID] {
				t.Errorf("dead letter %s: %+v", reason, dl)
			}
			pfx, sfx, _ := strings.Cut(w.position, "*")
			if !strings.HasPrefix(dl.Position, pfx) || !strings.HasSuffix(dl.Position, sfx) {
				t.Errorf("dead letter %s position %q, want %q", reason, dl.Position, w.position)
			}
		}
	}
	if len(wantDL) != 0 {
		t.Errorf("dead letters missing: %v", wantDL)
	}

	m := h.svc.m
	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"tcp received", m.received.WithLabelValues("syslog-tcp"), 7},
		{"udp received", m.received.WithLabelValues("syslog-udp"), 3},
		{"udp datagrams", m.udpDatagrams.WithLabelValues("syslog-udp"), 3},
		{"tcp connections total", m.tcpConnsTotal.WithLabelValues("syslog-tcp"), 1},
		{"malformed bad_pri", m.malformed.WithLabelValues("syslog-tcp", "bad_pri"), 1},
		{"malformed too_long", m.malformed.WithLabelValues("syslog-tcp", "too_long"), 1},
		{"malformed truncated", m.malformed.WithLabelValues("syslog-udp", "truncated_header"), 1},
		{"published tcp", m.published.WithLabelValues("demo-plant", "syslog-tcp"), 5},
		{"published udp", m.published.WithLabelValues("demo-plant", "syslog-udp"), 2},
		{"dead letters", m.deadLetters, 3},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestIngestShutdownFlushes checks that records received before the
// context ends are published even though their batch was not due.
func TestIngestShutdownFlushes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWait = time.Hour
	h := start(t, nil, cfg)
	const n = 50
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d\n", i)
	}
	sendTCP(t, h.addr("syslog-tcp"), b.String())
	h.waitMetric(h.svc.m.received.WithLabelValues("syslog-tcp"), n)
	if got := testutil.ToFloat64(h.svc.m.batches.WithLabelValues("demo-plant", "syslog-tcp")); got != 0 {
		t.Fatalf("%v batches published before shutdown; MaxWait should hold them", got)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, n)
	seen := map[string]bool{}
	for _, m := range msgs {
		for _, ev := range m.recs {
			seen[ev.Fields["seq"]] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct events, want %d", len(seen), n)
	}
}

// TestIngestBatching checks MaxBatch and the deterministic message ids.
func TestIngestBatching(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 10
	cfg.MaxWait = time.Hour
	h := start(t, nil, cfg)
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d\n", i)
	}
	sendTCP(t, h.addr("syslog-tcp"), b.String())
	msgs := collect[event.Event](t, h.env.JS, bus.StreamRaw, 20) // two full batches, the rest waits
	if len(msgs) != 2 || len(msgs[0].recs) != 10 || len(msgs[1].recs) != 10 {
		t.Fatalf("got %d messages, want 2 of 10 events", len(msgs))
	}
	for i, m := range msgs {
		for j, ev := range m.recs {
			if want := strconv.Itoa(10*i + j); ev.Fields["seq"] != want {
				t.Errorf("message %d event %d has seq %s, want %s", i, j, ev.Fields["seq"], want)
			}
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	all := collect[event.Event](t, h.env.JS, bus.StreamRaw, 25)
	if last := all[len(all)-1]; len(last.recs) != 5 {
		t.Errorf("last batch has %d events, want the remaining 5", len(last.recs))
	}
}

// TestPublishKeepsOrder: with several batches encoded at once, the
// pipelined publisher still puts a source's batches on the stream in the
// order they were formed.
func TestPublishKeepsOrder(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBatch = 5
	cfg.PublishWorkers = 4
	h := start(t, nil, cfg)
	const n = 500
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d\n", i)
	}
	sendTCP(t, h.addr("syslog-tcp"), b.String())
	next := 0
	for _, m := range collect[event.Event](t, h.env.JS, bus.StreamRaw, n) {
		for _, ev := range m.recs {
			if want := strconv.Itoa(next); ev.Fields["seq"] != want {
				t.Fatalf("message %s: event seq %s where %s was next", m.msgID, ev.Fields["seq"], want)
			}
			next++
		}
	}
}

// TestIngestSplitsOversizedBatch shrinks the stream's maximum message size
// so that a batch is rejected as too large: the publisher splits it, and a
// single event larger than the limit is dead-lettered.
func TestIngestSplitsOversizedBatch(t *testing.T) {
	env := bustest.Start(t)
	ctx := context.Background()
	stream, err := env.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	sc := stream.CachedInfo().Config
	sc.MaxMsgSize = 8 << 10
	if _, err := env.JS.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxLineBytes = 16 << 10
	cfg.MaxBatch = 40
	cfg.MaxBatchBytes = 64 << 20 // let the bus be the one that refuses
	cfg.MaxWait = time.Hour
	h := start(t, env, cfg)
	var b strings.Builder
	pad := strings.Repeat("p", 150)
	for i := range 40 {
		if i == 17 {
			fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: huge=%s\n", strings.Repeat("h", 9000))
			continue
		}
		fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d pad=%s\n", i, pad)
	}
	sendTCP(t, h.addr("syslog-tcp"), b.String())
	msgs := collect[event.Event](t, env.JS, bus.StreamRaw, 39)
	if len(msgs) < 2 {
		t.Errorf("%d messages; the batch should have been split", len(msgs))
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		for _, ev := range m.recs {
			if seen[ev.Fields["seq"]] {
				t.Errorf("duplicate seq %s", ev.Fields["seq"])
			}
			seen[ev.Fields["seq"]] = true
		}
	}
	if err := h.stop(); err != nil { // flushes the dead letter held by MaxWait
		t.Fatal(err)
	}
	dl := collect[event.DeadLetter](t, env.JS, bus.StreamDLQ, 1)
	if r := dl[0].recs[0].Reason; !strings.HasPrefix(r, "event too large for the bus") {
		t.Errorf("dead letter reason %q", r)
	}
	if got := testutil.ToFloat64(h.svc.m.dropped.WithLabelValues("syslog-tcp", dropTooLarge)); got != 1 {
		t.Errorf("dropped too_large = %v", got)
	}
}

func TestIngestTCPLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConns = 1
	cfg.IdleTimeout = 300 * time.Millisecond
	h := start(t, nil, cfg)
	addr := h.addr("syslog-tcp")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	h.waitMetric(h.svc.m.tcpConns.WithLabelValues("syslog-tcp"), 1)

	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("connection over max_conns: read err %v, want EOF", err)
	}
	h.waitMetric(h.svc.m.tcpRejected.WithLabelValues("syslog-tcp"), 1)

	// The first connection is closed once idle.
	start := time.Now()
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("idle connection: read err %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connection closed after %v", d)
	}
	h.waitMetric(h.svc.m.tcpConns.WithLabelValues("syslog-tcp"), 0)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestEnqueueFullQueue(t *testing.T) {
	env := bustest.Start(t)
	cfg := testConfig()
	cfg.QueueSize = 1
	svc, err := New(cfg, Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l := svc.listeners[0]
	if !svc.enqueue(item{l: l}, false) {
		t.Fatal("first record not queued")
	}
	if svc.enqueue(item{l: l}, false) {
		t.Fatal("UDP record queued into a full queue")
	}
	if got := testutil.ToFloat64(svc.m.dropped.WithLabelValues(l.cfg.Name, dropQueueFull)); got != 1 {
		t.Errorf("dropped queue_full = %v, want 1", got)
	}
	// A TCP record waits for room until the shutdown deadline aborts it.
	queued := make(chan bool)
	go func() { queued <- svc.enqueue(item{l: l}, true) }()
	select {
	case <-queued:
		t.Fatal("TCP record did not wait for room")
	case <-time.After(50 * time.Millisecond):
	}
	close(svc.abort)
	if <-queued {
		t.Fatal("TCP record queued into a full queue")
	}
	if got := testutil.ToFloat64(svc.m.dropped.WithLabelValues(l.cfg.Name, dropShutdown)); got != 1 {
		t.Errorf("dropped shutdown = %v, want 1", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	env := bustest.Start(t)
	cfg := testConfig()
	cfg.Listeners[0].Proto = "sctp"
	if _, err := New(cfg, Deps{JS: env.JS}); err == nil || !strings.Contains(err.Error(), "listeners[0].proto") {
		t.Errorf("New with bad proto: %v", err)
	}
	if _, err := New(testConfig(), Deps{}); err == nil {
		t.Error("New without JetStream: no error")
	}
}

func TestRunFailsOnBusyAddress(t *testing.T) {
	env := bustest.Start(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Listeners[1].Addr = busy.Addr().String()
	svc, err := New(cfg, Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listener syslog-tcp: listen tcp") {
		t.Fatalf("Run on a busy address: %v", err)
	}
}
