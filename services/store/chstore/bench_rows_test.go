package chstore

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/c981/c981/services/shared/event"
)

// Shape of one BenchmarkEventRows iteration: rowsMsgs bus messages of
// rowsPer events each (the enrich stage's batch size), one insert.
const (
	rowsMsgs = 20
	rowsPer  = 500
)

// eventPayloads encodes benchEvents as msgs bus messages of per events.
func eventPayloads(b testing.TB, msgs, per int) [][]byte {
	evs := benchEvents(msgs * per)
	out := make([][]byte, msgs)
	for m := range out {
		data, err := event.Marshal(evs[m*per : (m+1)*per])
		if err != nil {
			b.Fatal(err)
		}
		out[m] = data
	}
	return out
}

// storePath is one way of storing the events of bus messages.
type storePath struct {
	name string
	// shared decodes with event.UnmarshalEventsShared instead of
	// event.Unmarshal.
	shared bool
	// insert stores the decoded events.
	insert func(ctx context.Context, conn driver.Conn, evs []*event.Event) error
}

var storePaths = []storePath{
	// batchappend is the path before issue #9's work: EventRow rows, one
	// block, the driver's Batch.Append.
	{name: "batchappend", insert: func(ctx context.Context, conn driver.Conn, evs []*event.Event) error {
		rows, err := eventRows(evs)
		if err != nil {
			return err
		}
		b, err := conn.PrepareBatch(ctx, InsertQuery(TableEvents, EventColumns))
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				return err
			}
		}
		return b.Send()
	}},
	// rows: EventRow rows and Insert (blocks, direct column appends).
	{name: "rows", insert: func(ctx context.Context, conn driver.Conn, evs []*event.Event) error {
		rows, err := eventRows(evs)
		if err != nil {
			return err
		}
		SetStoredMS(rows, storedIndex, time.Now())
		return Insert(ctx, conn, TableEvents, EventColumns, rows)
	}},
	// refs: EventRef rows and Insert (the writer with EventRef as its
	// events mapper).
	{name: "refs", insert: insertRefs},
	{name: "refs-shared", shared: true, insert: insertRefs},
	// columns: CheckEvent (where the writer maps a message) and
	// InsertEvents.
	{name: "columns", insert: insertColumns},
}

func insertRefs(ctx context.Context, conn driver.Conn, evs []*event.Event) error {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		row, err := EventRef(e)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	SetStoredMS(rows, storedIndex, time.Now())
	return Insert(ctx, conn, TableEvents, EventColumns, rows)
}

func eventRows(evs []*event.Event) ([][]any, error) {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		row, err := EventRow(e)
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	return rows, nil
}

func insertColumns(ctx context.Context, conn driver.Conn, evs []*event.Event) error {
	for _, e := range evs {
		if err := CheckEvent(e); err != nil {
			return err
		}
	}
	return InsertEvents(ctx, conn, evs, time.Now())
}

// BenchmarkEventRows measures the Go side of storing events: decode the bus
// messages of one insert (rowsMsgs × rowsPer events), map the events to
// columns, append them to the batch and send it to the real server
// (CLICKHOUSE_ADDR), for every path of storePaths. cpu-ns/event is the CPU
// time of this process (all threads, garbage collection included; not the
// server's) per event: unlike events/s, which includes waiting for the
// server, it is the Go CPU per stored event, and it depends less on other
// processes loading the machine.
func BenchmarkEventRows(b *testing.B) {
	conn := testConn(b)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		b.Fatal(err)
	}
	payloads := eventPayloads(b, rowsMsgs, rowsPer)
	for _, p := range storePaths {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			runtime.GC()
			cpu0 := processCPU(b)
			for b.Loop() {
				var evs []*event.Event
				for _, data := range payloads {
					var part []event.Event
					var err error
					if p.shared {
						part, err = event.UnmarshalEventsShared(data, nil)
					} else {
						err = event.Unmarshal(data, &part)
					}
					if err != nil {
						b.Fatal(err)
					}
					for i := range part {
						evs = append(evs, &part[i])
					}
				}
				if err := p.insert(ctx, conn, evs); err != nil {
					b.Fatal(err)
				}
				n += len(evs)
			}
			runtime.GC() // the garbage of the last iterations is part of their cost
			cpu := processCPU(b) - cpu0
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/event")
		})
	}
}
