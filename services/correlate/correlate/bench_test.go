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
		repeatBatch(batch, base, iter)
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
		repeatBatch(batch, base, iter)
		if _, _, err := eng.Process(ctx, batch); err != nil {
			b.Fatal(err)
		}
		iter++
	}
	b.ReportMetric(float64(iter*len(base))/time.Since(start).Seconds(), "events/s")
}

// BenchmarkApplyDecoded is the apply stage's CPU per message without the
// bus: decode a 1000-event message of enriched events (about 40 strings
// each, as enrich writes them) and process it. decode=shared is the
// service's decoder (event.UnmarshalEventsRawFields: the strings point into
// the message, and an event's Fields map is built only for the rules that
// read it); decode=maps builds every event's map
// (event.UnmarshalEventsShared, the decoder before it); decode=copy
// allocates every string (EventBatch.UnmarshalMsg into a reused batch, the
// decoder before that). Every iteration is a new
// message (fresh event ids, later times), encoded outside the timer. Mix
// "ot" is benchBatch (about one alert per 20 events), "alerts" makes every
// event a historian write to a PLC (about one alert per event, like the
// end-to-end runs), as in BenchmarkServiceOrdered.
func BenchmarkApplyDecoded(b *testing.B) {
	for _, mix := range []string{"ot", "alerts"} {
		for _, mode := range []string{"shared", "maps", "copy"} {
			b.Run("mix="+mix+"/decode="+mode, func(b *testing.B) { benchApplyDecoded(b, mix, mode) })
		}
	}
}

// benchApplyDecoded is one BenchmarkApplyDecoded case.
func benchApplyDecoded(b *testing.B, mix, mode string) {
	set, err := rule.LoadDir(packDir)
	if err != nil {
		b.Fatal(err)
	}
	base := benchBatch()
	if mix == "alerts" {
		for i := range base {
			base[i] = flow(base[i].ID, base[i].Time.Sub(t0), hist, base[i].Dst, "write", false)
		}
	}
	for i := range base {
		ev := &base[i]
		ev.Source, ev.Format, ev.Transport, ev.Peer = "syslog-tcp", "cef", "tcp", "10.20.0.5:40112"
		ev.TimeRaw, ev.ProcID, ev.MsgID, ev.Vendor, ev.Product = "Nov 26 10:00:02", "412", "FLOW", "Acme", "FW-9"
		ev.SignatureID, ev.Signature, ev.Category, ev.Outcome = "2001", "modbus session", "network", "success"
		ev.SrcMAC, ev.DstMAC, ev.Session = "00:11:22:33:44:55", "66:77:88:99:aa:bb", "s-"+strconv.Itoa(i)
		ev.Message = "modbus " + ev.Operation + " from " + ev.SrcIP + " to " + ev.DstIP
		ev.Raw = "<134>Nov 26 10:00:02 fw-cell-01 fw[412]: CEF:0|Acme|FW-9|1.0|2001|" + ev.Message
		ev.Fields = map[string]string{"rule": "r" + strconv.Itoa(i%7), "iface": "eth1"}
	}
	eng := NewEngine(set, NewMemoryStore(), EngineOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	svc := &Service{}
	var buf []event.Event
	batch := make([]event.Event, len(base))
	iter := 0
	var busy time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		repeatBatch(batch, base, iter)
		data, err := event.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		iter++
		start := time.Now()
		b.StartTimer()
		var evs []event.Event
		switch mode {
		case "shared":
			evs, err = svc.decode(data)
		case "maps":
			buf, err = event.UnmarshalEventsShared(data, buf[:0])
			evs = buf
		default:
			clear(buf)
			eb := event.EventBatch(buf[:0])
			_, err = eb.UnmarshalMsg(data)
			buf, evs = eb, eb
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := eng.ProcessAt(context.Background(), uint64(iter), evs); err != nil {
			b.Fatal(err)
		}
		busy += time.Since(start)
	}
	b.ReportMetric(float64(iter*len(base))/busy.Seconds(), "events/s")
}

// repeatBatch fills batch with the iter-th repetition of base: event ids
// end in "-iter" and times are shifted by iter minutes. It returns the
// suffix.
func repeatBatch(batch, base []event.Event, iter int) string {
	suffix := "-" + strconv.Itoa(iter)
	shift := time.Duration(iter) * time.Minute
	for i := range base {
		batch[i] = base[i]
		batch[i].ID = base[i].ID + suffix
		batch[i].Time = base[i].Time.Add(shift)
	}
	return suffix
}
