package enrich

import (
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestEnrichInline: batches enriched inline (concurrently, as ingest's
// publish workers do) get the same zone context as through the consumer,
// each new pair is marked once across the batches, and the stage's metrics
// count them.
func TestEnrichInline(t *testing.T) {
	env := bustest.Start(t)
	reg := prometheus.NewRegistry()
	svc, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 4, 50
	batches := make([][]event.Event, workers)
	for w := range batches {
		for i := range perWorker {
			// Every worker sends the same EWS → PLC flow, plus one
			// unknown site per batch.
			batches[w] = append(batches[w], rawEvent(fmt.Sprintf("w%d-%d", w, i), "demo-plant", "10.20.2.21", "10.20.1.12", 44818, "enip", "program_download"))
		}
		batches[w] = append(batches[w], rawEvent(fmt.Sprintf("w%d-x", w), "no-such-site", "10.20.2.21", "10.20.1.12", 44818, "", ""))
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Go(func() { svc.EnrichInline(b) })
	}
	wg.Wait()

	newPairs := 0
	for _, b := range batches {
		for _, ev := range b[:perWorker] {
			if !ev.Src.Known || ev.Src.AssetID == "" || !ev.Dst.Known || ev.Dst.AssetID == "" || ev.Dst.Zone == "" {
				t.Fatalf("event %s not enriched: src %+v dst %+v", ev.ID, ev.Src, ev.Dst)
			}
			if ev.Flow.NewPair {
				newPairs++
			}
		}
		if x := b[perWorker]; x.Src.Known || x.Flow.NewPair {
			t.Errorf("event of an unknown site enriched: %+v", x)
		}
	}
	if newPairs != 1 {
		t.Errorf("%d events marked new_pair, want exactly 1 for the one flow", newPairs)
	}
	if got, want := testutil.ToFloat64(svc.m.events), float64(workers*(perWorker+1)); got != want {
		t.Errorf("c981_enrich_events_total = %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(svc.m.batches); got != workers {
		t.Errorf("c981_enrich_batches_total = %v, want %d", got, workers)
	}
	if got := testutil.ToFloat64(svc.m.unknownSite); got != workers {
		t.Errorf("c981_enrich_unknown_site_total = %v, want %d", got, workers)
	}
	svc.EnrichInline(nil) // an empty batch is not counted
	if got := testutil.ToFloat64(svc.m.batches); got != workers {
		t.Errorf("after an empty batch c981_enrich_batches_total = %v, want %d", got, workers)
	}
}
