package chstore

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/c981/c981/services/shared/event"
)

// benchEvents returns n realistic enriched events: Modbus writes from the
// HMIs to the PLCs of the demo plant, each with its raw line and fields.
func benchEvents(n int) []event.Event {
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	for i := range evs {
		plc := 11 + i%3
		hmi := 11 + i%2
		src, dst := fmt.Sprintf("10.20.2.%d", hmi), fmt.Sprintf("10.20.1.%d", plc)
		raw := fmt.Sprintf("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=%s dst=%s proto=tcp sport=%d dport=502 app=modbus op=write", src, dst, 40000+i%20000)
		ts := base.Add(time.Duration(i) * time.Millisecond)
		evs[i] = event.Event{
			ID: event.NewID("bench", raw, fmt.Sprint(i)), Time: ts, ReceivedAt: ts.Add(120 * time.Millisecond),
			Site: "demo-plant", Source: "syslog-udp", Format: "rfc3164", Transport: "udp", Peer: "10.20.1.1:514",
			Host: "fw-cell-01", App: "fw", Facility: 16, Severity: 6, Message: raw[39:], Kind: event.KindFlow, Action: "allow",
			SrcIP: src, DstIP: dst, SrcPort: 40000 + i%20000, DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: "write",
			Fields:       map[string]string{"action": "allow", "src": src, "dst": dst, "proto": "tcp", "sport": fmt.Sprint(40000 + i%20000), "dport": "502", "app": "modbus", "op": "write"},
			Raw:          raw,
			Src:          event.Endpoint{IP: src, Known: true, AssetID: fmt.Sprintf("demo-plant/hmi-0%d", hmi-10), Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2},
			Dst:          event.Endpoint{IP: dst, Known: true, AssetID: fmt.Sprintf("demo-plant/plc-10%d", plc-10), Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
			Flow:         event.Flow{CrossZone: true, Allowed: true, Conduit: "supervisory-control", FlowID: "modbus-hmi-plc"},
			ModelVersion: 1,
		}
	}
	return evs
}

// BenchmarkInsertEvents maps and inserts batches of 10,000 enriched events
// into the real server (CLICKHOUSE_ADDR).
func BenchmarkInsertEvents(b *testing.B) {
	conn := testConn(b)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	evs := benchEvents(batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var rows int
	for b.Loop() {
		vals := make([][]any, len(evs))
		for i := range evs {
			row, err := EventRow(&evs[i])
			if err != nil {
				b.Fatal(err)
			}
			vals[i] = row
		}
		if err := Insert(ctx, conn, TableEvents, EventColumns, vals); err != nil {
			b.Fatal(err)
		}
		rows += len(vals)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkEventRow measures mapping one event onto the events columns.
func BenchmarkEventRow(b *testing.B) {
	evs := benchEvents(1024)
	b.ReportAllocs()
	i := 0
	start := time.Now()
	for b.Loop() {
		if _, err := EventRow(&evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkBatchAppend measures the client side of an insert alone: 10,000
// mapped event rows appended to a prepared batch that is then abandoned
// (nothing is sent), row by row (what Insert does) and column by column
// (typed slices, batch.Column(i).Append), so the two are compared without
// the server's ingest time. cpu-ns/row is the comparison that holds on a
// loaded machine; columns measured ~20% more CPU per row (2026-11-26).
func BenchmarkBatchAppend(b *testing.B) {
	conn := testConn(b)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(10_000)
	rows := make([][]any, len(evs))
	for i := range evs {
		row, err := EventRow(&evs[i])
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = row
	}
	query := InsertQuery(TableEvents, EventColumns)
	for _, mode := range []string{"rows", "columns"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			var spent, cpu time.Duration
			for b.Loop() {
				batch, err := conn.PrepareBatch(ctx, query)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				cpu0 := processCPU(b)
				start := time.Now()
				if mode == "rows" {
					for _, r := range rows {
						if err := batch.Append(r...); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					cols, ok := columnar(rows, len(EventColumns))
					if !ok {
						b.Fatal("rows are not columnar")
					}
					for i, c := range cols {
						if err := batch.Column(i).Append(c); err != nil {
							b.Fatal(err)
						}
					}
				}
				spent += time.Since(start)
				runtime.GC() // the garbage of the appends is part of their cost
				cpu += processCPU(b) - cpu0
				n += len(rows)
				if err := batch.Abort(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/spent.Seconds(), "rows/s")
			// CPU time (all threads, GC included) per row: unlike rows/s it
			// hardly depends on other processes loading the machine.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/row")
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEventBlock measures filling the events columns of one block of
// InsertBlockRows events (eventBlock.append: fields sorted, values gathered
// column by column and appended) and encoding them as the driver does
// before writing a block to the socket, without a server: the columns are
// built offline with the server's types (TestInsertEventsColumns checks
// those against the server). It reports events/s.
func BenchmarkEventBlock(b *testing.B) {
	gen := benchEvents(8 * InsertBlockRows)
	evs := make([]*event.Event, len(gen))
	for i := range gen {
		evs[i] = &gen[i]
	}
	sc := &chcol.ServerContext{Revision: 54413, VersionMajor: 18, VersionMinor: 16, Timezone: time.UTC}
	cols := make([]chcol.Interface, len(eventColumns))
	for i, ec := range eventColumns {
		t := ec.chType()
		if EventColumns[i] == "id" {
			t = "UUID"
		}
		c, err := chcol.Type(t).Column(EventColumns[i], sc)
		if err != nil {
			b.Fatal(err)
		}
		cols[i] = c
	}
	blk := eventBlock{storedMS: time.Now().UnixMilli()}
	var buf chproto.Buffer
	var n, at int
	b.ReportAllocs()
	for b.Loop() {
		part := evs[at : at+InsertBlockRows]
		at = (at + InsertBlockRows) % len(evs)
		if err := blk.append(cols, part); err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		for _, c := range cols {
			c.Encode(&buf)
			c.Reset()
		}
		n += len(part)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
