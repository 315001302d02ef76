package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// BenchmarkIngestPublish measures parse + batch + publish to a real
// in-process JetStream server: each iteration hands 1000 demo records to a
// listener as a TCP connection does, and waits until the publisher has
// received the PubAck for all of them.
func BenchmarkIngestPublish(b *testing.B) {
	env := bustest.Start(b)
	cfg := testConfig()
	cfg.MaxWait = 5 * time.Millisecond
	svc, err := New(cfg, Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	<-svc.Ready()
	var l *listener
	for _, x := range svc.listeners {
		if x.cfg.Proto == ProtoTCP {
			l = x
		}
	}
	lines := make([][]byte, 1000)
	for i := range lines {
		if i%2 == 0 {
			lines[i] = fmt.Appendf(nil, "<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp sport=%d dport=502 app=modbus op=write", 40000+i)
		} else {
			lines[i] = fmt.Appendf(nil, `<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 %d - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`, i)
		}
	}
	pub := func() int64 { return int64(testutilPublished(svc)) }
	target := pub()
	b.ReportAllocs()
	for b.Loop() {
		for i, line := range lines {
			l.handle(line, "127.0.0.1:50000", where{proto: "tcp ", addr: "127.0.0.1:50000", unit: " line ", n: i + 1}, true)
		}
		target += int64(len(lines))
		for pub() < target {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBatchEncoding compares the bus encoding (event.Marshal:
// MessagePack with the json field names, generated code) with the same
// MessagePack through reflection and with encoding/json for a batch of
// 1000 realistic events (parsed and enriched as on C981_EVENTS).
func BenchmarkBatchEncoding(b *testing.B) {
	evs := realisticEvents(b, 1000)
	mp, err := event.Marshal(evs)
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(evs)
	if err != nil {
		b.Fatal(err)
	}
	// The same MessagePack through a reflection-based library, for
	// comparison with the generated code the bus uses.
	reflectEncode := func() ([]byte, error) {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.SetCustomStructTag("json")
		if err := enc.Encode(evs); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	reflectDecode := func(d []byte) ([]event.Event, error) {
		dec := msgpack.NewDecoder(bytes.NewReader(d))
		dec.SetCustomStructTag("json")
		var out []event.Event
		err := dec.Decode(&out)
		return out, err
	}
	mpReflect, err := reflectEncode()
	if err != nil {
		b.Fatal(err)
	}
	codecs := []struct {
		name   string
		data   []byte
		encode func() ([]byte, error)
		decode func([]byte) ([]event.Event, error)
	}{
		{"msgpack_generated", mp, func() ([]byte, error) { return event.Marshal(evs) }, event.UnmarshalEvents},
		{"msgpack_reflection", mpReflect, reflectEncode, reflectDecode},
		{"json", js, func() ([]byte, error) { return json.Marshal(evs) }, func(d []byte) ([]event.Event, error) {
			var out []event.Event
			err := json.Unmarshal(d, &out)
			return out, err
		}},
	}
	for _, c := range codecs {
		// Every codec must round-trip the batch.
		back, err := c.decode(c.data)
		if err != nil || len(back) != len(evs) || back[7].Dst.AssetID != evs[7].Dst.AssetID || back[7].Fields["dport"] != evs[7].Fields["dport"] || !back[7].Time.Equal(evs[7].Time) {
			b.Fatalf("%s does not round-trip: %v", c.name, err)
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encode(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(c.data)), "bytes/batch")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(c.data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(c.data)), "bytes/batch")
		})
	}
}

// realisticEvents parses the demo lines and adds the enrichment context
// the enrich stage attaches, so the batch looks like one on C981_EVENTS.
func realisticEvents(b *testing.B, n int) []event.Event {
	p := syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "syslog-tcp", Transport: "tcp",
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }})
	evs := make([]event.Event, n)
	for i := range evs {
		var line string
		if i%2 == 0 {
			line = fmt.Sprintf("<134>Nov 26 10:00:01 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp sport=%d dport=502 app=modbus op=write", 40000+i)
		} else {
			line = fmt.Sprintf(`<165>1 2026-11-26T10:00:02.123Z ews-01 studio5000 %d - [c981@32473 src="10.20.2.21" dst="10.20.1.12" dport="44818" app="enip" op="program_download"] download started`, i)
		}
		ev, err := p.Parse([]byte(line), event.NewID("bench", fmt.Sprint(i)), "10.20.1.1:514", time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		ev.Src = event.Endpoint{IP: ev.SrcIP, Known: true, AssetID: "demo-plant/hmi-01", AssetName: "hmi-01", Role: "hmi",
			Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2, Criticality: "high"}
		ev.Dst = event.Endpoint{IP: ev.DstIP, Known: true, AssetID: "demo-plant/plc-101", AssetName: "plc-101", Role: "plc",
			Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"}
		ev.Flow = event.Flow{CrossZone: true, Allowed: true, Conduit: "demo-plant/supervisory-control", FlowID: "modbus-ops"}
		ev.ModelVersion = 3
		evs[i] = ev
	}
	return evs
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func testutilPublished(s *Service) float64 {
	return testutil.ToFloat64(s.m.published.WithLabelValues("demo-plant", "syslog-tcp"))
}
