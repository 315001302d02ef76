package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
)

// ackJS is a JetStream that acknowledges every publish at once and counts
// the published records (the C981-Count header): the per-record work of
// ingest without a NATS server.
type ackJS struct {
	jetstream.JetStream
	records atomic.Int64
	// want is the record count at which reached gets a signal.
	want    atomic.Int64
	reached chan struct{}
}

func (j *ackJS) count(m *nats.Msg) {
	n, err := strconv.Atoi(m.Header.Get(bus.HeaderCount))
	if err != nil {
		panic("batch without a count header: " + err.Error())
	}
	if j.records.Add(int64(n)) >= j.want.Load() {
		select {
		case j.reached <- struct{}{}:
		default:
		}
	}
}

// PublishMsgAsync acknowledges m at once.
func (j *ackJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	j.count(m)
	return ackedFuture{m}, nil
}

// PublishMsg acknowledges m at once.
func (j *ackJS) PublishMsg(_ context.Context, m *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	j.count(m)
	return &jetstream.PubAck{Stream: "BENCH"}, nil
}

// ackedFuture is an acknowledged publish.
type ackedFuture struct{ m *nats.Msg }

// ackedOk is closed: every receive succeeds at once (bus.AwaitPubAck
// does not read the acknowledgement).
var ackedOk = func() chan *jetstream.PubAck {
	c := make(chan *jetstream.PubAck)
	close(c)
	return c
}()

func (f ackedFuture) Ok() <-chan *jetstream.PubAck { return ackedOk }
func (f ackedFuture) Err() <-chan error            { return nil }
func (f ackedFuture) Msg() *nats.Msg               { return f.m }

// memConn is a connection that reads a fixed byte stream, then EOF.
type memConn struct {
	*bytes.Reader
}

func (memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (memConn) Close() error                     { return nil }
func (memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 514} }
func (memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(10, 20, 1, 1), Port: 40112} }
func (memConn) SetDeadline(time.Time) error      { return nil }
func (memConn) SetReadDeadline(time.Time) error  { return nil }
func (memConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkIngestConn measures the whole per-record path of a TCP
// connection without the network and the NATS server: each iteration
// serves a connection carrying 1000 LF-framed plant records (serveConn:
// framing, parse, queue), and waits until the publisher has batched,
// encoded and "published" them to a JetStream that acknowledges at once,
// and recycled their storage.
func BenchmarkIngestConn(b *testing.B) {
	js := &ackJS{reached: make(chan struct{}, 1)}
	js.want.Store(1 << 62)
	cfg := testConfig()
	cfg.MaxLineBytes = 2048
	cfg.MaxWait = time.Millisecond
	svc, err := New(cfg, Deps{JS: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	var l *listener
	for _, x := range svc.listeners {
		if x.cfg.Proto == ProtoTCP {
			l = x
		}
	}
	if l == nil {
		b.Fatal("no tcp listener")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	<-svc.Ready()
	lines := plantBatch(1000)
	stream := append(bytes.Join(lines, []byte{'\n'}), '\n')
	var target int64
	b.ReportAllocs()
	for b.Loop() {
		l.serveConn(memConn{bytes.NewReader(stream)}, l.def, "", "tcp ")
		target += int64(len(lines))
		js.want.Store(target)
		for js.records.Load() < target {
			<-js.reached
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := js.records.Load(); got != target {
		b.Fatalf("%d records published, want %d", got, target)
	}
}
