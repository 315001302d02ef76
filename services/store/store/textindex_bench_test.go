package store

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// loadEvent is an event like the load generator's RFC 5424 records (about
// 300 bytes of raw line, the message its free text after the header): a
// sequence number, a nanosecond send time and ports unique to the event.
func loadEvent(seq uint64, at time.Time) event.Event {
	ops := []string{"read", "write", "program_download", "mode_change", "read"}
	hosts := []string{"fw-cell-01", "ews-01", "hmi-02", "plc-gw-03", "jump-01"}
	i := seq % 5
	raw := fmt.Sprintf(`<134>1 %s %s c981load - LOAD [c981load@32473 run="e2e-20261126T151150" seq="%d" sent="%d"][c981@32473 src="10.20.%d.%d" dst="10.20.1.11" sport="%d" dport="502" op="%s"] load test record from the c981 load generator, operator session on engineering workstation`,
		at.UTC().Format("2006-01-02T15:04:05.000000Z"), hosts[i], seq, at.UnixNano(), 2+seq%3, 10+seq%200, 40000+seq%20000, ops[i])
	return event.Event{ID: event.NewID("bench", strconv.FormatUint(seq, 10)), Site: "demo-plant", Time: at, Raw: raw,
		Message: "load test record from the c981 load generator, operator session on engineering workstation"}
}

// BenchmarkTextIndex measures the events writer's text-index builder (the
// store's Go CPU per event for event_grams): batches of 1,000 load-generator
// events at 100,000 events/s of event time (an hour's keys saturate), the
// keys of each batch looked up and the new ones committed as after a
// durable insert (the counting runs in the gathering goroutine, the rest
// in the flushing one), the count deltas taken every 100 batches (a second of
// events; the writer takes them every 10 s). It reports events/s, the
// index rows per event and the process CPU time per event.
func BenchmarkTextIndex(b *testing.B) {
	const batch, rate = 1000, 100_000
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// Ten minutes of events, cycled: the first pass warms the hour.
	evs := make([]event.Event, 60*rate/10)
	for i := range evs {
		evs[i] = loadEvent(uint64(i), start.Add(time.Duration(i)*time.Second/rate))
	}
	ptrs := make([]*event.Event, batch)
	x, c := newTextIndex(start, gramDeltaEvery), newGramCounter()
	var rows, events int
	at := 0
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		for i := range ptrs {
			ptrs[i] = &evs[(at+i)%len(evs)]
		}
		at += batch
		rows += len(x.rows(c.count(ptrs)))
		x.commit()
		events += batch
		if at%(100*batch) == 0 {
			rows += len(x.deltas())
			x.clearDeltas(start)
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows)/float64(events), "rows/event")
	// CPU time rather than wall time: the measure that holds on a loaded
	// machine.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(events), "cpu-µs/event")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServerInsertCPU measures the ClickHouse CPU time (user + system,
// from system.query_log's ProfileEvents, which do not depend on the load of
// the machine) per stored event of the text index, on the real server: the
// same load-generator events (20,000 per insert, 100,000 events/s of event
// time) stored into a database migrated up to 0007, where the
// materialized views of 0005 and 0006 index every insert, and into one
// migrated to 0008, where the store's index writer inserts the event_grams
// rows (new keys per insert, count deltas every 10 s of event time).
// Reported: events-cpu-µs/event (the events inserts, views included) and
// index-cpu-µs/event (the event_grams inserts).
func BenchmarkServerInsertCPU(b *testing.B) {
	const per, rate = 20_000, 100_000
	for _, tc := range []struct {
		name  string
		below string // apply the migrations before this one ("" = all)
	}{
		{"views-0005-0006", "0008"},
		{"writer-index-0008", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr, db := chtest.Database(b)
			ctx := context.Background()
			conn, err := chstore.Open(ctx, chstore.ConnConfig{Addrs: []string{addr}, Database: db, ReadTimeout: 10 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = conn.Close() })
			migs := fstest.MapFS{}
			all, err := fs.Glob(Migrations(), "*.sql")
			if err != nil {
				b.Fatal(err)
			}
			for _, name := range all {
				// 0009 (fields_json, which the inserts write) applies
				// before 0008 as well.
				if tc.below != "" && name >= tc.below && name < "0009" {
					continue
				}
				data, err := fs.ReadFile(Migrations(), name)
				if err != nil {
					b.Fatal(err)
				}
				migs[name] = &fstest.MapFile{Data: data}
			}
			if err := chstore.Migrate(ctx, conn, migs); err != nil {
				b.Fatal(err)
			}
			start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			x, c := newTextIndex(start, gramDeltaEvery), newGramCounter()
			var evIDs, idxIDs []string
			insert := func(ids *[]string, table string, cols []string, rows [][]any) {
				id := event.NewID("bench-insert-cpu", db, strconv.Itoa(len(evIDs)+len(idxIDs)))
				*ids = append(*ids, id)
				qctx := clickhouse.Context(ctx, clickhouse.WithQueryID(id), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
				if err := chstore.Insert(qctx, conn, table, cols, rows); err != nil {
					b.Fatal(err)
				}
			}
			evs := make([]event.Event, per)
			ptrs := make([]*event.Event, per)
			var seq uint64
			for b.Loop() {
				rows := make([][]any, per)
				for i := range evs {
					evs[i] = loadEvent(seq, start.Add(time.Duration(seq)*time.Second/rate))
					ptrs[i] = &evs[i]
					seq++
					if rows[i], err = chstore.EventRow(&evs[i]); err != nil {
						b.Fatal(err)
					}
				}
				insert(&evIDs, chstore.TableEvents, chstore.EventColumns, rows)
				if tc.below == "" {
					if grams := x.rows(c.count(ptrs)); len(grams) > 0 {
						insert(&idxIDs, chstore.TableEventGrams, chstore.GramColumns, grams)
					}
					x.commit()
					if now := start.Add(time.Duration(seq) * time.Second / rate); x.deltaDue(now) {
						if d := x.deltas(); len(d) > 0 {
							insert(&idxIDs, chstore.TableEventGrams, chstore.GramColumns, d)
						}
						x.clearDeltas(now)
					}
				}
			}
			b.StopTimer()
			if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
				b.Fatal(err)
			}
			cpu := func(ids []string) float64 {
				if len(ids) == 0 {
					return 0
				}
				var us uint64
				err := conn.QueryRow(ctx, `SELECT sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] +
					ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]), count()
					FROM system.query_log WHERE type = 2 AND has(?, query_id)`, ids).Scan(&us, new(uint64))
				if err != nil {
					b.Fatal(err)
				}
				return float64(us) / float64(seq)
			}
			b.ReportMetric(cpu(evIDs), "events-cpu-µs/event")
			b.ReportMetric(cpu(idxIDs), "index-cpu-µs/event")
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
