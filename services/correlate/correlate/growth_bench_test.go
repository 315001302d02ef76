package correlate

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// BenchmarkIncidentGrowth measures the cost of adding alerts to one
// incident that already holds 1, 1,000, 10,000 and 100,000 alerts: every
// iteration is one positioned batch of 50 events raising 100 alerts
// (OT-006 and OT-007, incident key demo-plant/plc-101) through the
// service's store stack (CachedStore over a MemoryStore). The cost per
// alert (ns/alert) and the bytes of the incident version published (B/version)
// must stay flat from the first to the 100,000th alert.
func BenchmarkIncidentGrowth(b *testing.B) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	const perBatch = 50 // events; two alerts each
	for _, size := range []int{1, 1_000, 10_000, 100_000} {
		b.Run("alerts="+strconv.Itoa(size), func(b *testing.B) {
			eng := NewEngine(set, NewCachedStore(NewMemoryStore(), 0, nil), EngineOptions{
				MaxAlerts: 1 << 30, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			ctx := context.Background()
			n, seq := 0, uint64(0)
			batch := make([]event.Event, 0, 1000)
			// next fills batch with k events of hist-01 writing plc-101,
			// 1 ms apart: one incident for good.
			next := func(k int) []event.Event {
				batch = batch[:0]
				for range k {
					batch = append(batch, flow("g"+strconv.Itoa(n), time.Duration(n)*time.Millisecond, hist, plc101, "write", false))
					n++
				}
				seq++
				return batch
			}
			for alerts := 0; alerts < size; {
				k := min(1000, max((size-alerts)/2, 1))
				as, _, err := eng.ProcessAt(ctx, seq+1, next(k))
				if err != nil {
					b.Fatal(err)
				}
				alerts += len(as)
			}
			var last event.Incident
			added := 0
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				as, incs, err := eng.ProcessAt(ctx, seq+1, next(perBatch))
				if err != nil {
					b.Fatal(err)
				}
				if len(incs) != 1 {
					b.Fatalf("%d incidents, want 1", len(incs))
				}
				added += len(as)
				last = incs[0]
			}
			el := time.Since(start)
			b.ReportMetric(float64(el.Nanoseconds())/float64(added), "ns/alert")
			b.ReportMetric(float64(added)/el.Seconds(), "alerts/s")
			b.ReportMetric(float64(perBatch*b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(last.Msgsize()), "B/version")
		})
	}
}
