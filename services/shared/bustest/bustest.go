// Package bustest starts a real in-process JetStream server for tests, with
// every C-981 stream created.
package bustest

import (
	"context"
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/natsserver"
)

// Env is a running test server and a client connected to it.
type Env struct {
	Server *server.Server
	URL    string
	NC     *nats.Conn
	JS     jetstream.JetStream
}

// Start runs a JetStream server with its store in t.TempDir(), creates the
// C-981 streams and shuts everything down at cleanup.
func Start(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	s, err := natsserver.Start(natsserver.Config{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	nc, js, err := bus.Connect(s.ClientURL(), t.Name())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	if err := bus.EnsureStreams(context.Background(), js, bus.DefaultStreamOptions()); err != nil {
		t.Fatalf("streams: %v", err)
	}
	return &Env{Server: s, URL: s.ClientURL(), NC: nc, JS: js}
}

// FreePorts reserves n loopback TCP ports and releases them for servers to
// take: cluster routes and leaf nodes need their ports known before any
// server starts.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}
