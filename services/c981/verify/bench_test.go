package verify

import (
	"context"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// BenchmarkVerify verifies a stored run of 200,000 events (every 1000th
// missing) and reports the events checked per second.
func BenchmarkVerify(b *testing.B) {
	const n = 200_000
	conn := open(b)
	evs := make([]*event.Event, 0, 10_000)
	for s := uint64(1); s <= n; s++ {
		if s%1000 == 0 {
			continue
		}
		evs = append(evs, loadEvent("bench", s, 0, int(s%50)))
		if len(evs) == cap(evs) {
			insertEvents(b, conn, evs)
			evs = evs[:0]
		}
	}
	insertEvents(b, conn, evs)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Verify(ctx, conn, Options{Run: "bench", Expect: n})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Missing != n/1000 {
			b.Fatalf("missing = %d, want %d", rep.Missing, n/1000)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
