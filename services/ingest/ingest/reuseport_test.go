package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/c981/c981/services/shared/bustest"
	"github.com/c981/c981/services/shared/event"
)

// TestUDPReusePort runs a UDP listener with one SO_REUSEPORT socket per
// reader: all sockets share the address, datagrams of many flows (the
// kernel spreads them by source port) are all received, and the kernel
// drop counter covers every socket.
func TestUDPReusePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT is used on Linux only")
	}
	cfg := testConfig()
	cfg.UDPReaders = 4
	cfg.UDPReusePort = true
	h := start(t, nil, cfg)
	var l *listener
	for _, x := range h.svc.listeners {
		if x.cfg.Proto == ProtoUDP {
			l = x
		}
	}
	if len(l.udp) != cfg.UDPReaders {
		t.Fatalf("%d sockets, want one per reader (%d)", len(l.udp), cfg.UDPReaders)
	}
	for i, c := range l.udp {
		if got := c.LocalAddr().String(); got != l.addr {
			t.Errorf("socket %d bound to %s, want %s", i, got, l.addr)
		}
	}
	if d := l.drops.Load(); d == nil || len(*d) != cfg.UDPReaders {
		t.Fatalf("kernel drop counters %v, want one per socket", d)
	}
	// 32 flows of 10 datagrams each: every socket sees some of them with
	// high probability, and none is lost.
	const flows, per = 32, 10
	for f := range flows {
		c, err := net.Dial("udp", l.addr)
		if err != nil {
			t.Fatal(err)
		}
		for i := range per {
			if _, err := fmt.Fprintf(c, "<134>Nov 26 10:00:01 fw-%d fw: flow=%d n=%d", f, f, i); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	h.waitMetric(h.svc.m.parsed.WithLabelValues("syslog-udp"), flows*per)
	if n, err := testutil.GatherAndCount(h.reg, "c981_ingest_udp_kernel_drops_total"); err != nil || n != 1 {
		t.Fatalf("%d c981_ingest_udp_kernel_drops_total series (%v), want 1 for the listener", n, err)
	}
	seen := map[string]bool{}
	for _, m := range collect[event.Event](t, h.env.JS, "C981_RAW", flows*per) {
		for _, ev := range m.recs {
			seen[ev.Fields["flow"]+"/"+ev.Fields["n"]] = true
		}
	}
	if len(seen) != flows*per {
		t.Errorf("%d distinct datagrams, want %d", len(seen), flows*per)
	}
}

// TestUDPReusePortBusyAddress checks that a reuseport listener does not
// share its address with a socket that did not ask for it.
func TestUDPReusePortBusyAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT is used on Linux only")
	}
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.UDPReaders = 2
	cfg.UDPReusePort = true
	cfg.Listeners = cfg.Listeners[:1]
	cfg.Listeners[0].Addr = busy.LocalAddr().String()
	svc, err := New(cfg, Deps{JS: bustest.Start(t).JS, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listener syslog-udp: listen udp") {
		t.Fatalf("Run on an address held by a plain socket: %v", err)
	}
}
