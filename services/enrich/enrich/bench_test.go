package enrich

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

func benchBatch(n int) []event.Event {
	pairs := [][4]string{
		{"10.20.2.11", "10.20.1.11", "modbus", "write"},
		{"10.20.2.21", "10.20.1.12", "enip", "program_download"},
		{"10.20.1.11", "10.20.9.5", "modbus", "read"},
		{"10.10.5.21", "10.20.1.11", "", ""},
		{"10.20.1.77", "10.20.1.12", "", ""},
	}
	evs := make([]event.Event, n)
	for i := range evs {
		p := pairs[i%len(pairs)]
		evs[i] = rawEvent(fmt.Sprintf("b-%d", i), "demo-plant", p[0], p[1], 502, p[2], p[3])
	}
	return evs
}

// decodeEnrich does what processWindow does to one raw batch before
// encoding: decode (sharing data's bytes), enrich with the current site
// models (one snapshot for the batch), group by site.
func decodeEnrich(svc *Service, data []byte) ([]siteGroup, error) {
	evs, err := event.UnmarshalEventsShared(data, nil)
	if err != nil {
		return nil, err
	}
	svc.enrichEvents(svc.set.Load(), evs)
	return groupBySite(evs), nil
}

// enrichBatch is decodeEnrich for a benchmark's one-site batch.
func enrichBatch(b *testing.B, svc *Service, data []byte) []siteGroup {
	groups, err := decodeEnrich(svc, data)
	if err != nil || len(groups) != 1 {
		b.Fatal(groups, err)
	}
	return groups
}

// BenchmarkEnrichBatch measures the stage's CPU work on one 100-event raw
// batch: decode, enrich, group (no bus).
func BenchmarkEnrichBatch(b *testing.B) {
	env := bustest.Start(b)
	svc, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS})
	if err != nil {
		b.Fatal(err)
	}
	data, err := event.MarshalEvents(benchBatch(100))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		enrichBatch(b, svc, data)
		n += 100
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEnrichHop measures the stage's CPU work per event on a raw
// batch of ingest's size (1,000 events), the way processWindow does it
// without the bus: decode (event.UnmarshalEventsShared), enrich, group by
// site and encode the enriched batch for publishing.
func BenchmarkEnrichHop(b *testing.B) {
	env := bustest.Start(b)
	svc, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS})
	if err != nil {
		b.Fatal(err)
	}
	const size = 1000
	data, err := event.MarshalEvents(benchBatch(size))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		groups := enrichBatch(b, svc, data)
		if out, err = event.AppendEvents(out[:0], groups[0].events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(out))/size, "bytes/event")
}

// BenchmarkService measures the running stage on a real JetStream server:
// each iteration publishes a 100-event raw batch and waits for its enriched
// batch on C981_EVENTS (one batch in flight: a latency-bound lower bound).
func BenchmarkService(b *testing.B) {
	env := bustest.Start(b)
	svc, err := New(Config{Sites: []string{demoSite}}, Deps{JS: env.JS})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	out, err := env.JS.OrderedConsumer(ctx, bus.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	data, err := event.MarshalEvents(benchBatch(100))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n, i := 0, 0
	for b.Loop() {
		i++
		if err := bus.Publish(ctx, env.JS, bus.RawSubject("demo-plant", "fw"), fmt.Sprint("bench-", i), 100, data); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
			b.Fatal(err)
		}
		n += 100
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
