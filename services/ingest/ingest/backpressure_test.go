package ingest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

// TestBackpressureWhenJetStreamRefuses makes C981_RAW refuse every new
// message (a full stream with DiscardNew, as when JetStream is out of
// space): the queue stays within QueueSize, TCP stops reading (the sender
// blocks), HTTP answers 429 and UDP drops are counted. When the stream
// accepts again, every TCP record arrives exactly once.
func TestBackpressureWhenJetStreamRefuses(t *testing.T) {
	cfg := testConfig()
	cfg.QueueSize = 200
	cfg.MaxBatch = 50
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken}, RetryAfter: 3 * time.Second},
	}, ListenerConfig{Name: "sensors", Proto: ProtoNATS, Site: "demo-plant"})
	h := start(t, nil, cfg)
	ctx := context.Background()
	stream, err := h.env.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	sc := stream.CachedInfo().Config
	limit := func(maxMsgs int64) {
		sc.MaxMsgs = maxMsgs
		if _, err := h.env.JS.UpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	// One message fits, nothing more.
	if _, err := h.env.JS.Publish(ctx, bus.RawSubject("other", "x"), []byte("filler")); err != nil {
		t.Fatal(err)
	}
	limit(1)

	const n = 40_000 // ~5 MB: more than the socket buffers hold
	writerDone := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", h.addr("syslog-tcp"))
		if err != nil {
			writerDone <- err
			return
		}
		defer c.Close()
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d padding=%s\n", i, strings.Repeat("p", 64))
		}
		_, err = io.WriteString(c, b.String())
		writerDone <- err
	}()

	// The queue fills up to its capacity and stays there.
	deadline := time.Now().Add(10 * time.Second)
	for len(h.svc.queue) < cfg.QueueSize {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d records, want it full (%d)", len(h.svc.queue), cfg.QueueSize)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-writerDone:
		t.Fatalf("TCP sender finished (%v) although ingest cannot publish: no backpressure", err)
	case <-time.After(300 * time.Millisecond):
	}
	if l := len(h.svc.queue); l > cfg.QueueSize {
		t.Fatalf("queue %d beyond its bound", l)
	}

	// HTTP: 429 with Retry-After.
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr("sensor-http")+EventsPath, strings.NewReader(`{"a":1}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("HTTP status %d Retry-After %q, want 429 with Retry-After 3", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(h.svc.m.throttled.WithLabelValues("sensor-http")); got != 1 {
		t.Errorf("HTTP throttled %v, want 1", got)
	}

	// NATS: a request is answered busy; a plain message is dropped and counted.
	reply, err := h.env.NC.Request("c981.sensor.demo-plant.nozomi", []byte(line3164), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Data) != natsReplyBusy {
		t.Errorf("NATS reply %q, want %q", reply.Data, natsReplyBusy)
	}
	natsDropped := h.svc.m.dropped.WithLabelValues("sensors", dropQueueFull)
	if err := h.env.NC.Publish("c981.sensor.demo-plant.nozomi", []byte(line3164)); err != nil {
		t.Fatal(err)
	}
	h.waitMetric(natsDropped, 1)

	// UDP: dropped and counted.
	dropped := h.svc.m.dropped.WithLabelValues("syslog-udp", dropQueueFull)
	before := testutil.ToFloat64(dropped)
	sendUDP(t, h.addr("syslog-udp"), line3164)
	h.waitMetric(dropped, before+1)
	if got := testutil.ToFloat64(h.svc.m.publishErrors.WithLabelValues(bus.RawSubject("demo-plant", "syslog-tcp"))); got == 0 {
		t.Error("no publish error counted while the stream refuses")
	}

	// JetStream accepts again: the sender completes and nothing is lost.
	limit(-1)
	select {
	case err := <-writerDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("TCP sender still blocked after the stream accepts again")
	}
	h.expectEachSeqOnce(ctx, n)
}

// expectEachSeqOnce reads the raw stream of the TCP listener and fails
// unless each sequence number 0..n-1 (the records' seq field) arrived
// exactly once.
func (h *harness) expectEachSeqOnce(ctx context.Context, n int) {
	t := h.t
	t.Helper()
	cons, err := h.env.JS.OrderedConsumer(ctx, bus.StreamRaw, jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.RawSubject("demo-plant", "syslog-tcp")}})
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, n)
	for total := 0; total < n; {
		msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("after %d of %d events: %v", total, n, err)
		}
		var evs []event.Event
		if err := event.Unmarshal(msg.Data(), &evs); err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			var seq int
			if _, err := fmt.Sscan(ev.Fields["seq"], &seq); err != nil || seq < 0 || seq >= n {
				t.Fatalf("event without a valid seq: %q", ev.Raw)
			}
			seen[seq]++
			total++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("seq %d arrived %d times", i, c)
		}
	}
}
