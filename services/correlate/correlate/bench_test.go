package correlate

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/bustest"
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

// BenchmarkWindow100kKeys feeds a threshold rule and a sequence rule with
// 100,000 live keys (one per source address), in 1000-event batches of
// event time moving forward, and reports events/s and the bytes of state
// per live key. Neither rule fires: the cost measured is the window and
// sequence bookkeeping.
func BenchmarkWindow100kKeys(b *testing.B) {
	const keys = 100_000
	set := loadRules(b, `rules:
  - id: B-THR
    title: Write storm
    severity: high
    kind: threshold
    condition: operation == "write"
    group_by: [src_ip, dst_ip]
    threshold: 1000
    window: 1h
  - id: B-SEQ
    title: Upload then transfer
    severity: high
    kind: sequence
    within: 6h
    group_by: [src_ip]
    steps:
      - condition: operation == "program_upload"
      - condition: bytes_out > 1000000000
`)
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowedLateness: time.Hour})
	base := make([]event.Event, keys)
	for i := range base {
		src := ews
		src.IP = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		op := "write"
		if i%2 == 1 {
			op = "program_upload"
		}
		base[i] = flow("k"+strconv.Itoa(i), 0, src, plc101, op, true)
	}
	ctx := context.Background()
	const batch = 1000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for i := 0; i < keys; i += batch {
		if _, _, err := eng.Process(ctx, base[i:i+batch]); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	live := len(eng.win.rules["B-THR"].keys) + len(eng.win.rules["B-SEQ"].keys)
	if live != keys {
		b.Fatalf("live keys = %d, want %d", live, keys)
	}
	perKey := float64(int64(ms.HeapAlloc)-int64(before)) / float64(live)

	buf := make([]event.Event, batch)
	n, off := 0, 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for j := range buf {
			buf[j] = base[(off+j)%keys]
			buf[j].Time = t0.Add(time.Duration(n+j) * time.Microsecond)
		}
		if _, _, err := eng.Process(ctx, buf); err != nil {
			b.Fatal(err)
		}
		n += batch
		off = (off + batch) % keys
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(perKey, "B/key")
}

// BenchmarkEngineKVStore is BenchmarkEngineProcess against the incident
// store of the service (CachedStore over the JetStream key-value store, on
// an in-process JetStream server), with 100 incident keys per 1000-event batch (unknown devices,
// one incident per source address, updated by every batch): the incident
// reads and writes per batch, not the rules, dominate.
func BenchmarkEngineKVStore(b *testing.B) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	env := bustest.Start(b)
	ctx := context.Background()
	kv, err := NewKVStore(ctx, env.JS, KVConfig{})
	if err != nil {
		b.Fatal(err)
	}
	eng := NewEngine(set, NewCachedStore(kv, 0, nil), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	base := benchBatch()
	for i := range base {
		if i%10 == 3 {
			src := rogue
			src.IP = "10.20.1." + strconv.Itoa(100+i/10)
			base[i] = flow(base[i].ID, time.Duration(i)*50*time.Millisecond, src, plc101, "read", true)
		}
	}
	batch := make([]event.Event, len(base))
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
