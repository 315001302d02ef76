package ingest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/event"
)

func TestByteBudget(t *testing.T) {
	type op struct {
		do   string // acquire (non-blocking check via tryAcquire), release, fits
		n    int64
		want bool
	}
	tests := []struct {
		name string
		max  int64
		ops  []op
		used int64
	}{
		{"within the budget", 100, []op{{"try", 60, true}, {"try", 40, true}, {"fits", 1, false}}, 100},
		{"over the budget", 100, []op{{"try", 60, true}, {"try", 41, false}, {"fits", 40, true}}, 60},
		{"release makes room", 100, []op{{"try", 60, true}, {"try", 60, false}, {"release", 60, true}, {"try", 60, true}}, 60},
		{"a record larger than the budget when empty", 100, []op{{"try", 500, true}, {"try", 1, false}, {"release", 500, true}, {"try", 1, true}}, 1},
		{"a request larger than the budget never fits", 100, []op{{"fits", 101, false}, {"fits", 100, true}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newByteBudget(tc.max)
			for i, o := range tc.ops {
				var got bool
				switch o.do {
				case "try":
					got = b.tryAcquire(o.n)
				case "release":
					b.release(o.n)
					got = true
				case "fits":
					got = b.fits(o.n)
				}
				if got != o.want {
					t.Fatalf("op %d %s(%d) = %v, want %v", i, o.do, o.n, got, o.want)
				}
			}
			if got := b.inUse(); got != tc.used {
				t.Errorf("in use %d, want %d", got, tc.used)
			}
		})
	}
}

func TestByteBudgetAcquireWaits(t *testing.T) {
	b := newByteBudget(100)
	if !b.acquire(80, nil) {
		t.Fatal("acquire within the budget failed")
	}
	got := make(chan bool, 2)
	go func() { got <- b.acquire(50, nil) }()
	abort := make(chan struct{})
	go func() { got <- b.acquire(90, abort) }()
	select {
	case <-got:
		t.Fatal("acquire beyond the budget did not wait")
	case <-time.After(50 * time.Millisecond):
	}
	close(abort)
	if <-got {
		t.Fatal("aborted acquire reserved bytes")
	}
	b.release(40) // 40 in use: 50 fits now
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("acquire failed after release")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("acquire not woken by release")
	}
	if u := b.inUse(); u != 90 {
		t.Errorf("in use %d, want 90", u)
	}
}

// TestBackpressureByteBudget bounds the queue by bytes, not records: with
// the record bound out of reach (QueueSize above the records sent) and
// C981_RAW refusing every message, TCP stops reading once QueueBytes are
// reserved, HTTP answers 429 although the record queue has room, the
// reservation and the heap stay bounded, and after the stream accepts
// again every record arrives exactly once.
func TestBackpressureByteBudget(t *testing.T) {
	cfg := testConfig()
	cfg.QueueSize = 32_000 // more than the records sent: only the byte budget can push back
	cfg.QueueBytes = 256 << 10
	cfg.MaxLineBytes = 2048
	cfg.MaxBatch = 100
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{
		Name: "sensor-http", Proto: ProtoHTTP, Addr: "127.0.0.1:0", Site: "demo-plant",
		HTTP: &HTTPConfig{Tokens: []string{testToken}, RetryAfter: 2 * time.Second, MaxBodyBytes: 64 << 10},
	})
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
	if _, err := h.env.JS.Publish(ctx, bus.RawSubject("other", "x"), []byte("filler")); err != nil {
		t.Fatal(err)
	}
	limit(1)

	// 30,000 records of ~300 bytes: 9 MB on the wire, ~40 MB of budget
	// cost, 160 times QueueBytes.
	const n = 30_000
	pad := strings.Repeat("p", 220)
	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
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
			fmt.Fprintf(&b, "<134>Nov 26 10:00:01 hmi-01 hmi: seq=%d padding=%s\n", i, pad)
		}
		_, err = io.WriteString(c, b.String())
		writerDone <- err
	}()

	// The reservation climbs to the budget (within one record) and stays.
	oneRecord := recordCost(len(pad) + 64)
	deadline := time.Now().Add(10 * time.Second)
	for h.svc.budget.inUse() < int64(cfg.QueueBytes)-oneRecord {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes reserved, want the budget (%d) used up", h.svc.budget.inUse(), cfg.QueueBytes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var maxUsed int64
	for range 30 {
		maxUsed = max(maxUsed, h.svc.budget.inUse())
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-writerDone:
		t.Fatalf("TCP sender finished (%v) although ingest cannot publish: no backpressure", err)
	default:
	}
	if maxUsed > int64(cfg.QueueBytes) {
		t.Errorf("%d bytes reserved, beyond queue_bytes %d", maxUsed, cfg.QueueBytes)
	}
	if got := testutil.ToFloat64(h.svc.m.queueBytes); got > float64(cfg.QueueBytes) || got < float64(cfg.QueueBytes)/2 {
		t.Errorf("c981_ingest_queue_bytes = %v, want near %d", got, cfg.QueueBytes)
	}
	if l := len(h.svc.queue); l > cfg.QueueBytes/itemOverhead {
		t.Errorf("%d records queued: the byte budget did not bound them", l)
	}
	var heap runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heap)
	// The sender's 9 MB string plus bounded ingest state; unbounded
	// reading would hold ~40 MB of events.
	if grown := int64(heap.HeapAlloc) - int64(heapBefore.HeapAlloc); grown > 24<<20 {
		t.Errorf("heap grew by %d MiB while JetStream refused", grown>>20)
	}

	// HTTP is refused by the byte budget although the record queue has
	// room (the document costs more than the TCP records, so it does not
	// fit into what one of them leaves free).
	doc := `{"event_type":"alert","padding":"` + strings.Repeat("x", 600) + `"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr("sensor-http")+EventsPath, strings.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("HTTP status %d Retry-After %q, want 429 with Retry-After 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// UDP finds no room (a record costlier than the TCP ones) and is counted.
	dropped := h.svc.m.dropped.WithLabelValues("syslog-udp", dropQueueFull)
	sendUDP(t, h.addr("syslog-udp"), line3164+" padding="+strings.Repeat("u", 600))
	h.waitMetric(dropped, 1)

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
	// Everything published: the whole reservation is released.
	deadline = time.Now().Add(5 * time.Second)
	for h.svc.budget.inUse() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still reserved after everything was published", h.svc.budget.inUse())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEncodeEvents checks that event.AppendEvents, the publisher's encoder, produces the bus
// encoding (event.Marshal): same size, same records decoded.
func TestEncodeEvents(t *testing.T) {
	p := syslog.NewParser(syslog.Options{Site: "demo-plant", Source: "syslog-tcp", Transport: "tcp"})
	var evs []event.Event
	for i, raw := range []string{line3164, line5424, `{"timestamp":"2026-11-26T10:00:10.123456+0100","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","alert":{"signature_id":1,"signature":"x","severity":1}}`} {
		ev, err := p.Parse([]byte(raw), fmt.Sprint("id-", i), "127.0.0.1:1", time.Unix(1795687200, 0))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for _, n := range []int{0, 1, len(evs)} {
		want, err := event.Marshal(evs[:n])
		if err != nil {
			t.Fatal(err)
		}
		got, err := event.AppendEvents([]byte("junk")[:0], evs[:n])
		if err != nil {
			t.Fatal(err)
		}
		// Fields is a map, encoded in iteration order: compare the
		// length and the decoded records, not the bytes.
		if len(got) != len(want) {
			t.Fatalf("%d events: %d bytes, event.Marshal gives %d", n, len(got), len(want))
		}
		var back, ref []event.Event
		if err := event.Unmarshal(got, &back); err != nil || len(back) != n {
			t.Fatalf("%d events: decoded %d (%v)", n, len(back), err)
		}
		if err := event.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, ref) {
			t.Fatalf("%d events: decoded\n%+v\nwant\n%+v", n, back, ref)
		}
	}
}
