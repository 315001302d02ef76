package bus_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/natsserver"
)

// syncServer starts an embedded JetStream server (file store in a temp
// dir) with or without SyncAlways and returns a client with the streams
// created.
func syncServer(b *testing.B, always bool) jetstream.JetStream {
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: b.TempDir(), SyncAlways: always})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	nc, js, err := bus.Connect(s.ClientURL(), b.Name())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	if err := bus.EnsureStreams(context.Background(), js, bus.DefaultStreamOptions()); err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkPublishSync measures the durability trade-off of the embedded
// server's file store: batches of 1,000 enriched events published to a real
// JetStream stream, each waiting for its PubAck, on two servers started
// side by side — one with the nats-server default sync interval (writes
// reach the page cache before the PubAck, fsync every 2 minutes), one with
// `sync_interval: always` (SyncAlways: fsync before every PubAck). Each
// iteration publishes one batch to each, so load from other processes
// weighs on both alike. Reports the events/s of each and always/default-%.
func BenchmarkPublishSync(b *testing.B) {
	const per = 1000
	ctx := context.Background()
	def, always := syncServer(b, false), syncServer(b, true)
	evs := benchEvents(per)
	subj := bus.EventsSubject("demo-plant")
	b.ReportAllocs()
	var tDef, tAlways time.Duration
	i := 0
	for b.Loop() {
		i++
		id := "sync-" + strconv.Itoa(i)
		start := time.Now()
		if err := bus.PublishRecords(ctx, def, subj, id, evs); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := bus.PublishRecords(ctx, always, subj, id, evs); err != nil {
			b.Fatal(err)
		}
		tDef += mid.Sub(start)
		tAlways += time.Since(mid)
	}
	rd, ra := float64(i*per)/tDef.Seconds(), float64(i*per)/tAlways.Seconds()
	b.ReportMetric(rd, "default-events/s")
	b.ReportMetric(ra, "always-events/s")
	b.ReportMetric(100*ra/rd, "always/default-%")
}
