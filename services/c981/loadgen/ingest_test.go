package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/ingest/ingest"
	"github.com/c981/c981/services/shared/bustest"
)

// ingestHarness runs the real ingest service with one TCP listener on a
// real in-process JetStream server.
type ingestHarness struct {
	env  *bustest.Env
	svc  *ingest.Service
	reg  *prometheus.Registry
	addr string // syslog over TCP
	http string // POST /v1/events
}

// testToken is the bearer token of the harness's HTTP listener.
const testToken = "load-test-token-0123456789"

func startIngest(tb testing.TB, workers int) *ingestHarness {
	tb.Helper()
	env := bustest.Start(tb)
	reg := prometheus.NewRegistry()
	svc, err := ingest.New(ingest.Config{
		NodeID:         "load-node",
		PublishWorkers: workers,
		Listeners: []ingest.ListenerConfig{
			{Name: "syslog-tcp", Proto: ingest.ProtoTCP, Addr: "127.0.0.1:0", Site: "load-plant"},
			{Name: "sensor-http", Proto: ingest.ProtoHTTP, Addr: "127.0.0.1:0", Site: "load-plant", HTTP: &ingest.HTTPConfig{Tokens: []string{testToken}}},
		},
	}, ingest.Deps{JS: env.JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		tb.Fatalf("ingest Run: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("ingest Run: %v", err)
		}
	})
	return &ingestHarness{env: env, svc: svc, reg: reg, addr: svc.Addrs()["syslog-tcp"], http: svc.Addrs()["sensor-http"]}
}

// published sums c981_ingest_published_events_total.
func (h *ingestHarness) published(tb testing.TB) uint64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "c981_ingest_published_events_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return uint64(n)
}

// cpuTime is the user+system CPU time of the test process so far; on a
// shared, overloaded machine events per CPU-second is a steadier measure
// of the cost than the wall-clock rate.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// logPublishTime logs how long the publishes took (encode + PubAck).
func (h *ingestHarness) logPublishTime(tb testing.TB) {
	mfs, err := h.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "c981_ingest_publish_duration_seconds" {
			hist := mf.GetMetric()[0].GetHistogram()
			tb.Logf("%d batches published, %.1f ms each on average", hist.GetSampleCount(), 1000*hist.GetSampleSum()/float64(hist.GetSampleCount()))
		}
	}
}

// waitPublished waits until n events were acknowledged by JetStream.
func (h *ingestHarness) waitPublished(tb testing.TB, n uint64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for h.published(tb) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d events published after %s", h.published(tb), n, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// verifySeqs checks with VerifyRaw that every sequence number
// first..last of run reached C981_RAW exactly once and nothing else
// arrived.
func verifySeqs(tb testing.TB, js jetstream.JetStream, run string, first, last uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := VerifyRaw(ctx, js, run, first, last, 30*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK() || rep.Other > 0 || rep.Undecodable > 0 {
		tb.Fatal(rep)
	}
}

// TestIngestTCPZeroLoss drives the ingest service over TCP with the load
// generator in every format and framing and proves by sequence numbers
// that every record reached C981_RAW exactly once.
func TestIngestTCPZeroLoss(t *testing.T) {
	n := uint64(100_000)
	if testing.Short() {
		n = 10_000
	}
	tests := []struct{ format, framing string }{
		{FormatMix, FramingNewline},
		{FormatRFC5424, FramingOctet},
	}
	for _, tt := range tests {
		t.Run(tt.format+"-"+tt.framing, func(t *testing.T) {
			h := startIngest(t, 0)
			run := "zero-loss-" + tt.format
			cpu0 := cpuTime(t)
			start := time.Now()
			res, err := Run(context.Background(), Config{Addr: h.addr, Proto: ProtoTCP, Format: tt.format, Framing: tt.framing, Count: n, RunID: run})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != n || res.FirstSeq != 1 || res.LastSeq != n {
				t.Fatalf("loadgen result %v", res)
			}
			h.waitPublished(t, n, 2*time.Minute)
			elapsed := time.Since(start)
			cpu := cpuTime(t) - cpu0
			t.Logf("%d events sent at %.0f/s, all published to JetStream in %s: %.0f events/s; the process (load generator, ingest, nats-server) used %.2f CPU-s: %.0f events per CPU-second",
				n, res.Rate(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), cpu.Seconds(), float64(n)/cpu.Seconds())
			h.logPublishTime(t)
			verifySeqs(t, h.env.JS, run, 1, n)
		})
	}
}

// BenchmarkIngestTCPLoad measures the end-to-end ingest rate: the load
// generator sends 100,000 mixed records per iteration over one TCP
// connection, and the iteration ends when JetStream acknowledged all of
// them. Sequence numbers are verified once at the end.
//
// workers is ingest's publish_workers: the batches encoded at once (they
// are published in order, pipelined, either way).
func BenchmarkIngestTCPLoad(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			h := startIngest(b, workers)
			const per = 100_000
			seq := uint64(1)
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			for b.Loop() {
				res, err := Run(context.Background(), Config{Addr: h.addr, Proto: ProtoTCP, Format: FormatMix, Count: per, RunID: "bench", FirstSeq: seq})
				if err != nil {
					b.Fatal(err)
				}
				seq = res.LastSeq + 1
				h.waitPublished(b, seq-1, 2*time.Minute)
			}
			b.ReportMetric(float64(seq-1)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(seq-1)/(cpuTime(b)-cpu0).Seconds(), "events/cpu-s")
			b.StopTimer()
			verifySeqs(b, h.env.JS, "bench", 1, seq-1)
		})
	}
}

// ExampleResult shows the summary line of a run.
func ExampleResult() {
	fmt.Println(Result{Sent: 1000, FirstSeq: 1, LastSeq: 1000, Elapsed: 10 * time.Millisecond})
	// Output: sent 1000 records (seq 1..1000) in 10ms: 100000 records/s
}
