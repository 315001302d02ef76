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

// benchBatch is 1000 enriched events of the demo plant: routine HMI and
// SCADA polling and historian replication, with one suspicious event in
// twenty (writes from the historian, SIS writes, unknown devices).
func benchBatch() []event.Event {
	hmi := event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2}
	plcs := []event.Endpoint{plc101,
		{IP: "10.20.1.12", Known: true, AssetID: "demo-plant/plc-102", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
		{IP: "10.20.1.13", Known: true, AssetID: "demo-plant/plc-103", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
	}
	evs := make([]event.Event, 1000)
	for i := range evs {
		id := "b" + strconv.Itoa(i)
		at := time.Duration(i) * 50 * time.Millisecond
		dst := plcs[i%len(plcs)]
		switch {
		case i%20 == 7:
			evs[i] = flow(id, at, hist, dst, "write", false)
		case i%100 == 13:
			evs[i] = flow(id, at, plc101, sis01, "write", false)
		case i%100 == 57:
			evs[i] = flow(id, at, rogue, dst, "read", true)
		case i%4 == 1:
			evs[i] = flow(id, at, hmi, dst, "write", true)
		case i%4 == 3:
			evs[i] = flow(id, at, ews, hist, "", true)
		default:
			evs[i] = flow(id, at, hmi, dst, "read", true)
		}
	}
	return evs
}

// BenchmarkEngineProcess processes 1000-event batches with the rule pack
// and the in-memory store; every iteration is a new batch (fresh event ids,
// later event times), so incidents are created and updated as in
// production.
func BenchmarkEngineProcess(b *testing.B) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	base := benchBatch()
	batch := make([]event.Event, len(base))
	ctx := context.Background()
	iter := 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		suffix := "-" + strconv.Itoa(iter)
		shift := time.Duration(iter) * time.Minute
		for i := range base {
			batch[i] = base[i]
			batch[i].ID = base[i].ID + suffix
			batch[i].Time = base[i].Time.Add(shift)
		}
		if _, _, err := eng.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
		iter++
	}
	b.ReportMetric(float64(iter*len(base))/time.Since(start).Seconds(), "events/s")
}
