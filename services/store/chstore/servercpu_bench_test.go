package chstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/c981/c981/services/shared/event"
)

// fieldsEvents returns n plant events (benchEvents) with 17 fields each,
// the demo plant's average, cycling over a few thousand distinct values.
func fieldsEvents(n int) []event.Event {
	evs := benchEvents(n)
	for i := range evs {
		for j := range 9 {
			evs[i].Fields["extra"+strconv.Itoa(j)] = "value-" + strconv.Itoa((i*(j+1))%5000)
		}
	}
	return evs
}

// BenchmarkServerInsertCPU measures the ClickHouse CPU time (user +
// system, from system.query_log, which hardly depends on the load of the
// machine) per event of InsertEvents, the writer's insert, on the real
// server (CLICKHOUSE_ADDR): batches of 20,000 plant events of 17 fields.
// It reports ch-cpu-µs/event; events/s is the wall-clock rate, load
// dependent.
func BenchmarkServerInsertCPU(b *testing.B) {
	const per = 20_000
	conn := testConn(b)
	ctx := context.Background()
	if err := Migrate(ctx, conn, migrationsFS()); err != nil {
		b.Fatal(err)
	}
	gen := fieldsEvents(per)
	evs := make([]*event.Event, per)
	for i := range gen {
		evs[i] = &gen[i]
	}
	var ids []string
	events := 0
	for b.Loop() {
		for i := range gen {
			// New ids and times: no two batches collapse.
			gen[i].ID = event.NewID("server-insert-cpu", strconv.Itoa(events+i))
			gen[i].Time = gen[i].Time.Add(time.Second)
		}
		id := event.NewID("server-insert-cpu-query", strconv.Itoa(len(ids)), time.Now().String())
		ids = append(ids, id)
		qctx := clickhouse.Context(ctx, clickhouse.WithQueryID(id), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
		if err := InsertEvents(qctx, conn, evs, time.Now()); err != nil {
			b.Fatal(err)
		}
		events += per
	}
	b.StopTimer()
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		b.Fatal(err)
	}
	var us, n uint64
	err := conn.QueryRow(ctx, `SELECT sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] +
		ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]), count()
		FROM system.query_log WHERE type = 2 AND has(?, query_id)`, ids).Scan(&us, &n)
	if err != nil {
		b.Fatal(err)
	}
	if n != uint64(len(ids)) {
		b.Fatalf("%d of %d inserts in system.query_log", n, len(ids))
	}
	b.ReportMetric(float64(us)/float64(events), "ch-cpu-µs/event")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
