package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// barrierConn holds every events insert in PrepareBatch until want of them
// wait there at the same time (or until a timeout), and records the most
// it saw at once.
type barrierConn struct {
	driver.Conn
	want    int
	mu      sync.Mutex
	cur     int
	most    int
	release chan struct{}
	once    sync.Once
}

func (c *barrierConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if !strings.HasPrefix(query, "INSERT INTO `"+chstore.TableEvents+"` (") {
		return c.Conn.PrepareBatch(ctx, query, opts...)
	}
	c.mu.Lock()
	c.cur++
	c.most = max(c.most, c.cur)
	if c.cur >= c.want {
		c.once.Do(func() { close(c.release) })
	}
	c.mu.Unlock()
	select {
	case <-c.release:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.cur--
	c.mu.Unlock()
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

// TestEventsInsertConcurrency: the events writer inserts up to
// InsertConcurrency batches at the same time (and no more), and every
// event is still stored exactly once and acknowledged.
func TestEventsInsertConcurrency(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("insert_concurrency=%d", n), func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(e.addr)
			cfg.BatchRows = 200 // one message per batch
			cfg.InsertConcurrency = n
			conn := &barrierConn{Conn: e.conn, want: n, release: make(chan struct{})}
			const msgs, per = 8, 200
			for i := range msgs {
				publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("conc-%d", i), demoEvents(i, per))
			}
			e.start(t, cfg, conn, nil, nil)
			eventually(t, 60*time.Second, func() (bool, string) {
				var got uint64
				// The table appears once the service has migrated.
				if err := e.conn.QueryRow(context.Background(), "SELECT count() FROM events FINAL").Scan(&got); err != nil {
					return false, err.Error()
				}
				return got == msgs*per, fmt.Sprintf("%d of %d events stored", got, msgs*per)
			})
			if got := e.count(t, "SELECT count() FROM events"); got != msgs*per {
				t.Errorf("%d rows before FINAL, want %d (each batch inserted once)", got, msgs*per)
			}
			e.waitDrained(t, 30*time.Second)
			conn.mu.Lock()
			most := conn.most
			conn.mu.Unlock()
			if most != n {
				t.Errorf("at most %d events inserts at once, want %d", most, n)
			}
		})
	}
}
