package store

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// stallProxy forwards TCP to ClickHouse; while stalled it holds the
// server's answers (the connection stays open), as a server too busy to
// finish an insert within the client's read timeout looks to the client.
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.setStalled(false) })
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) setStalled(s bool) {
	p.mu.Lock()
	p.stalled = s
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() {
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				p.mu.Lock()
				for p.stalled {
					p.cond.Wait()
				}
				p.mu.Unlock()
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestInsertTimeoutSplits: while ClickHouse does not answer within the read
// timeout, the writer retries a timed-out block as two halves (down to
// minSplitRows) instead of sending the same large block again and again;
// once the server answers, every event is stored exactly once after FINAL.
func TestInsertTimeoutSplits(t *testing.T) {
	e := newEnv(t)
	px := newStallProxy(t, e.addr)
	cfg := e.config(px.addr())
	cfg.ClickHouse.ReadTimeout = 3 * time.Second
	cfg.BatchRows = 4 * minSplitRows
	cfg.BatchWait = 2 * time.Second
	cfg.AckWait = 10 * time.Second
	r := e.start(t, cfg, nil, nil, nil)

	// One event first: the store is connected and migrated before the
	// server stalls.
	publish(t, e.bus.JS, bus.EventsSubject(site), "warm-up", demoEvents(100, 1))
	e.waitDrained(t, 30*time.Second)

	const msgs, per = 8, minSplitRows / 2
	px.setStalled(true)
	for i := range msgs {
		publish(t, e.bus.JS, bus.EventsSubject(site), "split-"+string(rune('a'+i)), demoEvents(i, per))
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		n := counter(r.svc.m.splits.WithLabelValues(chstore.TableEvents))
		return n >= 1, "no insert split after timing out"
	})
	px.setStalled(false)
	e.waitDrained(t, 60*time.Second)
	if got := e.count(t, "SELECT count() FROM events FINAL"); got != msgs*per+1 {
		t.Errorf("events after FINAL = %d, want %d", got, msgs*per+1)
	}
	if got := e.count(t, "SELECT count() FROM dead_letters"); got != 0 {
		t.Errorf("%d dead letters, want 0", got)
	}
}
