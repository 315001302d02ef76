package bus_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// benchEvents returns n enriched events shaped like the demo plant's.
func benchEvents(n int) []event.Event {
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{
			ID: event.NewID("bench", strconv.Itoa(i)), Time: ts, ReceivedAt: ts, Site: "demo-plant",
			Source: "syslog-tcp", Format: "rfc3164", Transport: "tcp", Host: "fw-cell-01", App: "fw",
			Facility: 16, Severity: 6, Kind: event.KindFlow, Action: "allow",
			SrcIP: "10.20.2.11", DstIP: "10.20.1.11", DstPort: 502, Proto: "tcp", AppProto: "modbus", Operation: "read",
			Message: "action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=read",
			Fields:  map[string]string{"action": "allow", "src": "10.20.2.11", "dst": "10.20.1.11", "proto": "tcp", "dport": "502", "app": "modbus", "op": "read"},
			Raw:     "<134>Nov 26 10:00:00 fw-cell-01 fw: action=allow src=10.20.2.11 dst=10.20.1.11 proto=tcp dport=502 app=modbus op=read",
			Src:     event.Endpoint{IP: "10.20.2.11", Known: true, AssetID: "demo-plant/hmi-01", Role: "hmi", Zone: "demo-plant/supervisory", ZoneKind: "supervisory", Purdue: 2, SLT: 2},
			Dst:     event.Endpoint{IP: "10.20.1.11", Known: true, AssetID: "demo-plant/plc-101", Role: "plc", Zone: "demo-plant/control", ZoneKind: "control", Purdue: 1, SLT: 3, Criticality: "critical"},
			Flow:    event.Flow{CrossZone: true, Allowed: true, Conduit: "demo-plant/c-supervisory-control", FlowID: "hmi-poll"},
		}
	}
	return evs
}

// BenchmarkBusRoundTrip measures what one hop costs per event: encode a
// batch, publish it to a real JetStream (file store) and wait for the
// PubAck, pull it with a durable consumer, decode it and ack it.
func BenchmarkBusRoundTrip(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			env := bustest.Start(b)
			ctx := context.Background()
			cons, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig("bench", 100, time.Minute))
			if err != nil {
				b.Fatal(err)
			}
			evs := benchEvents(size)
			subj := bus.EventsSubject("demo-plant")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := bus.PublishRecords(ctx, env.JS, subj, "bench-"+strconv.Itoa(i), evs); err != nil {
					b.Fatal(err)
				}
				msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				for m := range msgs.Messages() {
					got, err := event.UnmarshalEvents(m.Data())
					if err != nil || len(got) != size {
						b.Fatalf("decode: %d events, %v", len(got), err)
					}
					if err := m.Ack(); err != nil {
						b.Fatal(err)
					}
				}
				if msgs.Error() != nil {
					b.Fatal(msgs.Error())
				}
			}
			perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*size)
			b.ReportMetric(1e9/perEvent, "events/s")
			b.ReportMetric(perEvent/1000, "µs/event")
		})
	}
}

// BenchmarkBatchCodec measures the bus encoding alone.
func BenchmarkBatchCodec(b *testing.B) {
	evs := benchEvents(1000)
	data, err := event.MarshalEvents(evs)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.MarshalEvents(evs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := event.UnmarshalEvents(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("decode-shared", func(b *testing.B) {
		b.ReportAllocs()
		var dst []event.Event
		for b.Loop() {
			var err error
			if dst, err = event.UnmarshalEventsShared(data, dst); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	})
	b.ReportMetric(float64(len(data))/float64(len(evs)), "bytes/event")
}
