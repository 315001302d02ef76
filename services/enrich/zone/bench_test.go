package zone

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/c981/c981/services/shared/event"
)

// BenchmarkEnrich enriches the demo events round-robin (allowed flows,
// violations, maintenance windows, unknown addresses, plain logs).
func BenchmarkEnrich(b *testing.B) {
	ix := demoIndex(b)
	in, err := os.ReadFile("testdata/demo-events.json")
	if err != nil {
		b.Fatal(err)
	}
	var evs []event.Event
	if err := json.Unmarshal(in, &evs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := evs[n%len(evs)]
		ix.Enrich(&ev)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkZoneLookup resolves a mix of asset, zone-only and unknown
// addresses to their endpoint context.
func BenchmarkZoneLookup(b *testing.B) {
	ix := demoIndex(b)
	ips := []string{"10.20.1.11", "10.20.9.5", "172.16.35.10", "10.10.5.21", "10.20.1.99", "10.10.200.7", "8.8.8.8", "2001:db8::1"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ep := ix.Endpoint(ips[n%len(ips)])
		if ep.Zone == "" {
			b.Fatal("empty zone")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
