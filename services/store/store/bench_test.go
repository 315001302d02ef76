package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/chtest"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// BenchmarkStoreEvents measures the stage end to end: enriched event
// batches on JetStream (100 messages of 500 events per iteration, one full batch) until they
// are inserted into the real ClickHouse and acknowledged, with the default
// batching (50,000 rows or 1 s).
func BenchmarkStoreEvents(b *testing.B) {
	addr, db := chtest.Database(b)
	env := bustest.Start(b)
	svc, err := New(Config{ClickHouse: chstore.ConnConfig{Addrs: []string{addr}, Database: db}, BatchWait: 200 * time.Millisecond},
		Deps{JS: env.JS, Registry: prometheus.NewRegistry(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	const msgs, per = 100, 500
	var acked float64
	iter := 0
	total := 0
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		for m := range msgs {
			evs := make([]event.Event, per)
			for i := range evs {
				evs[i] = demoEvent(iter*msgs+m, i)
			}
			if err := bus.PublishRecords(ctx, env.JS, bus.EventsSubject(site), fmt.Sprintf("bench-%d-%d", iter, m), evs); err != nil {
				b.Fatal(err)
			}
		}
		iter++
		acked += msgs
		b.StartTimer()
		start := time.Now()
		for counterValue(svc, chstore.TableEvents) < acked {
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
		total += msgs * per
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}

func counterValue(s *Service, table string) float64 {
	return counter(s.m.messages.WithLabelValues(table))
}
