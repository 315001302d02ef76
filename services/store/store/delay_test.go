package store

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/shared/bus"
)

// lagProxy forwards TCP connections to target and holds every chunk the
// server sends for delay before passing it to the client, as a process
// starved of CPU reads its socket late. What the client sends is
// forwarded at once.
type lagProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	mu     sync.Mutex
	conns  []net.Conn
}

func newLagProxy(t *testing.T, target string, delay time.Duration) *lagProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lagProxy{ln: ln, target: target, delay: delay}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *lagProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *lagProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c) }()
		go p.lag(c, s)
	}
}

// lag copies server to client, each chunk delay after it was read.
func (p *lagProxy) lag(client, server net.Conn) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	q := make(chan chunk, 1<<16)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := server.Read(buf)
			if n > 0 {
				q <- chunk{at: time.Now(), data: buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		time.Sleep(time.Until(ch.at.Add(p.delay)))
		if _, err := client.Write(ch.data); err != nil {
			return
		}
	}
	_ = client.Close()
}

// TestLateDeliveriesStoredPromptly: messages that reach the store's
// process more than a second after the server sent them (a starved
// process, a slow link) are stored at once and exactly once, not dropped
// by the client and redelivered an AckWait later. A batch gathered with a
// fetch per round lost every message that arrived after its fetch had
// expired on the client (nats.go ends a fetch one second after its
// expiry): those waited AckWait for redelivery.
func TestLateDeliveriesStoredPromptly(t *testing.T) {
	const msgs, perMsg = 30, 50
	const lag = 1500 * time.Millisecond
	e := newEnv(t)
	p := newLagProxy(t, e.bus.Server.Addr().String(), lag)
	nc, js, err := bus.Connect(p.url(), t.Name(), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	cfg := e.config(e.addr)
	cfg.BatchRows = 400
	cfg.AckWait = 20 * time.Second
	e.start(t, cfg, nil, nil, nil, func(s *Service) { s.deps.JS = js })
	// Publish once the store's events consumer exists (every API call of
	// the store's connection takes the lag too).
	eventually(t, 30*time.Second, func() (bool, string) {
		_, err := e.bus.JS.Consumer(context.Background(), bus.StreamEvents, bus.ConsumerStoreEvents)
		return err == nil, fmt.Sprintf("events consumer: %v", err)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		return e.count(t, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'") == 1, "no events table yet"
	})
	time.Sleep(2 * lag)
	start := time.Now()
	for i := range msgs {
		publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("late-%d", i), demoEvents(i, perMsg))
		time.Sleep(20 * time.Millisecond)
	}
	// Well within AckWait: every delivery reaches the client 1.5 s late,
	// and a batch waits for nothing else.
	eventually(t, cfg.AckWait/2, func() (bool, string) {
		n := e.count(t, "SELECT count() FROM events")
		return n >= msgs*perMsg, fmt.Sprintf("%d of %d events stored after %s", n, msgs*perMsg, time.Since(start).Round(time.Millisecond))
	})
	e.waitDrained(t, cfg.AckWait/2)
	if _, _, redelivered := e.consumerState(t); redelivered != 0 {
		t.Errorf("%d messages redelivered; want 0 (every first delivery stored)", redelivered)
	}
	if got := e.count(t, "SELECT count() FROM events"); got != msgs*perMsg {
		t.Errorf("count() = %d; want %d (each event inserted once)", got, msgs*perMsg)
	}
}
