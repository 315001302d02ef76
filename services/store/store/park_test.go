package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/store/chstore"
)

// stallConn holds every events insert in PrepareBatch until release is
// closed (or ctx ends), as a ClickHouse that accepts connections but does
// not answer would.
type stallConn struct {
	driver.Conn
	release chan struct{}
}

func (c *stallConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if strings.HasPrefix(query, "INSERT INTO `"+chstore.TableEvents+"` (") {
		select {
		case <-c.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

// TestPulledAheadKeptAlive: while the events inserts stall for several
// AckWaits, the messages the writer's subscription pulled ahead (in no
// batch yet) are parked and kept leased, so none is redelivered and each
// event is inserted exactly once when the inserts resume.
func TestPulledAheadKeptAlive(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.addr)
	cfg.BatchRows = 200 // one message per batch
	cfg.InsertConcurrency = 1
	const msgs, per = 20, 200
	for i := range msgs {
		publish(t, e.bus.JS, bus.EventsSubject(site), fmt.Sprintf("park-%d", i), demoEvents(i, per))
	}
	conn := &stallConn{Conn: e.conn, release: make(chan struct{})}
	r := e.start(t, cfg, conn, nil, nil)
	// Two batches are taken (one inserting, one waiting for it) and the
	// subscription holds the rest; the stall lasts 2.5 AckWaits.
	time.Sleep(5 * cfg.AckWait / 2)
	// Nothing was let go: every message is still leased.
	if _, ackPending, redelivered := e.consumerState(t); redelivered != 0 || ackPending != msgs {
		t.Errorf("during the stall: %d messages redelivered, %d unacknowledged; want 0 and %d", redelivered, ackPending, msgs)
	}
	close(conn.release)
	eventually(t, 60*time.Second, func() (bool, string) {
		var got uint64
		if err := e.conn.QueryRow(context.Background(), "SELECT count() FROM events FINAL").Scan(&got); err != nil {
			return false, err.Error()
		}
		return got == msgs*per, fmt.Sprintf("%d of %d events stored", got, msgs*per)
	})
	e.waitDrained(t, 30*time.Second)
	// Each message delivered, inserted and acknowledged once. (Rows
	// before FINAL would not show a copy that a merge has collapsed, nor
	// the consumer's redelivered count one that was acknowledged.)
	if got := counter(r.svc.m.messages.WithLabelValues(chstore.TableEvents)); got != msgs {
		t.Errorf("%v messages acknowledged, want %d (a redelivered copy is acknowledged again)", got, msgs)
	}
	if got := counter(r.svc.m.rows.WithLabelValues(chstore.TableEvents)); got != msgs*per {
		t.Errorf("%v rows inserted, want %d", got, msgs*per)
	}
	if n := counter(r.svc.m.parked.WithLabelValues(chstore.TableEvents)); n < 1 {
		t.Errorf("subscription parked %v times; want at least once", n)
	}
}
