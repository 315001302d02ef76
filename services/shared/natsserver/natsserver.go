// Package natsserver runs an embedded nats-server with JetStream in-process,
// for the all-in-one `c981 run` and for tests (a real server, not a mock).
package natsserver

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures the embedded server.
type Config struct {
	// Host to listen on; default 127.0.0.1.
	Host string
	// Port to listen on; -1 picks a free port.
	Port int
	// StoreDir is the JetStream data directory.
	StoreDir string
	// SyncAlways fsyncs every write before acknowledging it (slower, no
	// acknowledged write lost on power failure).
	SyncAlways bool
	// MaxPayload bounds one message; default 8 MiB.
	MaxPayload int32
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("start nats: StoreDir is required")
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = 8 << 20
	}
	opts := &server.Options{
		ServerName: "c981-embedded",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: cfg.SyncAlways,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats: not ready after 10s")
	}
	return s, nil
}
