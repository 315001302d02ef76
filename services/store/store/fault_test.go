package store

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// faultOutage is how long TestFaultOutage keeps ClickHouse unreachable:
// C981_FAULT_OUTAGE (a Go duration; the scenario is 60s), 5s by
// default to keep the suite quick.
func faultOutage(t *testing.T) time.Duration {
	if s := os.Getenv("C981_FAULT_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("C981_FAULT_OUTAGE=%q: want a positive duration", s)
		}
		return d
	}
	return 5 * time.Second
}

// TestFaultOutage publishes sequence-numbered events continuously while
// ClickHouse becomes unreachable mid-run (the proxy refuses connections and
// cuts those in flight, as a stopped server would) and comes back; every
// event must then be stored exactly once.
func TestFaultOutage(t *testing.T) {
	outage := faultOutage(t)
	e := newEnv(t)
	px := newProxy(t, e.addr, true)
	cfg := e.config(px.addr())
	cfg.BatchRows = 2000
	cfg.BatchWait = 200 * time.Millisecond
	r := e.start(t, cfg, nil, nil, nil)

	const per = 50
	l := e.load("fault", per)

	// Until the store has started (migrations applied: seconds on a loaded
	// machine) and stored something.
	var before uint64
	eventually(t, 30*time.Second, func() (bool, string) {
		err := e.conn.QueryRow(context.Background(), "SELECT count() FROM events FINAL").Scan(&before)
		return err == nil && before > 0, fmt.Sprintf("nothing stored before the outage (%v)", err)
	})
	px.setUp(false)
	t.Logf("ClickHouse unreachable for %s after %d events stored", outage, before)
	time.Sleep(outage)
	// The events writer retries the batch's events insert or, when the
	// outage came between the two, its text-index insert.
	retries := counter(r.svc.m.retries.WithLabelValues(chstore.TableEvents)) + counter(r.svc.m.retries.WithLabelValues(chstore.TableEventGrams))
	if retries == 0 {
		t.Error("no insert was retried during the outage")
	}
	if err := r.svc.Health(); err == nil {
		t.Error("Health() = nil during the outage")
	}
	px.setUp(true)
	time.Sleep(2 * time.Second)
	want := l.stop(t)
	e.waitDrained(t, 60*time.Second+outage)

	tests := []struct {
		query string
		want  uint64
	}{
		{"SELECT count() FROM events FINAL", want},
		{"SELECT uniqExact(id) FROM events", want},
		{"SELECT uniqExact(visitParamExtractString(fields_json, 'seq')) FROM events", want},
		{"SELECT count() FROM dead_letters", 0},
	}
	for _, tc := range tests {
		if got := e.count(t, tc.query); got != tc.want {
			t.Errorf("%s = %d; want %d", tc.query, got, tc.want)
		}
	}
	t.Logf("%d events published, %d stored before the outage, %v insert retries, %d rows inserted (copies included)",
		want, before, retries, uint64(counter(r.svc.m.rows.WithLabelValues(chstore.TableEvents))))
	if err := r.svc.Health(); err != nil {
		t.Errorf("Health() = %v after recovery", err)
	}
}

// load publishes a batch of per sequence-numbered demo events to the events
// stream every 20 ms (message ids <prefix>-<seq>) until stop.
type load struct {
	published atomic.Int64
	cancel    context.CancelFunc
	done      chan error
}

func (e *env) load(prefix string, per int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan error, 1)}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				l.done <- nil
				return
			case <-tick.C:
			}
			if err := bus.PublishRecords(context.Background(), e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("%s-%d", prefix, seq), demoEvents(seq, per)); err != nil {
				l.done <- fmt.Errorf("publish %d: %w", seq, err)
				return
			}
			l.published.Add(int64(per))
		}
	}()
	return l
}

// stop ends the load and returns how many events it published.
func (l *load) stop(t *testing.T) uint64 {
	t.Helper()
	l.cancel()
	if err := <-l.done; err != nil {
		t.Fatal(err)
	}
	return uint64(l.published.Load())
}
