package bus_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// BenchmarkBusHop measures what one bus hop of the pipeline costs per
// event, the way the stages do it: a producer goroutine encodes batches and
// publishes them to a real JetStream stream (file store) with a
// deterministic id, waiting for each PubAck; concurrently the consumer
// pulls them with a durable pull consumer under a byte budget
// (bus.PullBudget), decodes each batch and acknowledges it. One iteration
// is one batch; events/s is the hop's throughput with producer and consumer
// overlapping, and allocs/op are both sides' per batch. decode=generated
// uses event.UnmarshalEvents, decode=shared the fast path
// event.UnmarshalEventsShared (strings share the message's memory).
// conn=tcp connects over loopback TCP (a stage of a distributed
// deployment); conn=inprocess over nats.InProcessServer, a pipe to the
// embedded server with no socket system calls (the all-in-one c981 run).
func BenchmarkBusHop(b *testing.B) {
	type decoder struct {
		name string
		fn   func(data []byte, dst []event.Event) ([]event.Event, error)
	}
	decoders := []decoder{
		{"generated", func(data []byte, _ []event.Event) ([]event.Event, error) { return event.UnmarshalEvents(data) }},
		{"shared", event.UnmarshalEventsShared},
	}
	for _, size := range []int{1000, 4000} {
		for _, dec := range decoders {
			for _, inproc := range []bool{false, true} {
				conn := "tcp"
				if inproc {
					conn = "inprocess"
				}
				b.Run(fmt.Sprintf("batch=%d/decode=%s/conn=%s", size, dec.name, conn), func(b *testing.B) {
					benchHop(b, size, dec.fn, inproc)
				})
			}
		}
	}
}

func benchHop(b *testing.B, size int, decode func([]byte, []event.Event) ([]event.Event, error), inproc bool) {
	env := bustest.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	js := env.JS
	if inproc {
		nc, ijs, err := bus.Connect(env.URL, b.Name(), nats.InProcessServer(env.Server))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js = ijs
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamEvents, bus.ConsumerConfig("hop", 64, time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(size)
	subj := bus.EventsSubject("demo-plant")
	it, err := cons.Messages(bus.PullBudget(64, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	var (
		bytes int
		dst   []event.Event
	)
	b.ReportAllocs()
	// The producer publishes exactly as many batches as the loop consumes:
	// b.Loop's count is unknown up front, so it is fed one token per
	// iteration (buffered, so it runs ahead by up to 64 batches, the
	// consumer's MaxAckPending).
	next := make(chan int, 64)
	perr := make(chan error, 1)
	go func() {
		var buf []byte
		for i := range next {
			var err error
			buf, err = event.AppendEvents(buf[:0], evs)
			if err == nil {
				err = bus.Publish(ctx, js, subj, "hop-"+strconv.Itoa(i), len(evs), buf)
			}
			if err != nil {
				perr <- err
				return
			}
		}
	}()
	i := 0
	for b.Loop() {
		i++
		next <- i
		msg, err := it.Next()
		if err != nil {
			select {
			case err = <-perr:
			default:
			}
			b.Fatal(err)
		}
		bytes += len(msg.Data())
		dst, err = decode(msg.Data(), dst[:0])
		if err != nil || len(dst) != size {
			b.Fatalf("decode: %d events, %v", len(dst), err)
		}
		if err := msg.Ack(); err != nil {
			b.Fatal(err)
		}
	}
	close(next)
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/msg")
}
