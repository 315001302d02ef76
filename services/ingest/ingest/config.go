package ingest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
)

// Transport protocols of a listener.
const (
	ProtoUDP = "udp"
	ProtoTCP = "tcp"
)

// Defaults of Config.
const (
	DefaultMaxBatch        = 1000
	DefaultMaxWait         = 50 * time.Millisecond
	DefaultMaxBatchBytes   = 1 << 20
	DefaultMaxLineBytes    = syslog.DefaultMaxBytes
	DefaultMaxConns        = 512
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultQueueSize       = 10000
	DefaultUDPReadBuffer   = 4 << 20
	DefaultShutdownTimeout = 10 * time.Second
)

// Config configures the ingest service.
//
//	ingest:
//	  node_id: ingest-1
//	  max_batch: 1000
//	  max_wait: 50ms
//	  max_line_bytes: 65536
//	  max_conns: 512
//	  listeners:
//	    - {name: syslog-udp, proto: udp, addr: "0.0.0.0:5514", site: demo-plant, timezone: Europe/Berlin}
//	    - {name: syslog-tcp, proto: tcp, addr: "0.0.0.0:5514", site: demo-plant, format: auto}
type Config struct {
	// NodeID names this ingest instance in event ids; default the host name.
	NodeID string `yaml:"node_id"`
	// Listeners are the syslog inputs; at least one.
	Listeners []ListenerConfig `yaml:"listeners"`
	// MaxBatch is the maximum number of events per published batch.
	MaxBatch int `yaml:"max_batch"`
	// MaxWait is how long the first event of a batch waits for more.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxBatchBytes bounds the estimated encoded size of one batch (kept
	// well below the stream's maximum message size).
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// MaxLineBytes is the maximum size of one record; longer records are
	// dead-lettered as too_long.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxConns is the maximum number of concurrent connections per TCP
	// listener; further connections are closed at once.
	MaxConns int `yaml:"max_conns"`
	// IdleTimeout closes a TCP connection that sent nothing for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// QueueSize is the capacity, in records, of the queue between the
	// listeners and the publisher.
	QueueSize int `yaml:"queue_size"`
	// UDPReadBuffer is the socket receive buffer requested for UDP
	// listeners, in bytes (the kernel may cap it).
	UDPReadBuffer int `yaml:"udp_read_buffer"`
	// ShutdownTimeout bounds publishing the queued records after the
	// context ends.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// ListenerConfig configures one syslog listener.
type ListenerConfig struct {
	// Name identifies the listener; it is the events' Source and a subject
	// token, so it may contain only letters, digits, '_' and '-'.
	Name string `yaml:"name"`
	// Proto is udp or tcp (newline framed, LF or CR LF).
	Proto string `yaml:"proto"`
	// Addr is the address to listen on, e.g. "0.0.0.0:5514" or
	// "127.0.0.1:0" (any free port; see Service.Addrs).
	Addr string `yaml:"addr"`
	// Site is the site id of every event from this listener.
	Site string `yaml:"site"`
	// Format is auto (default), rfc5424 or rfc3164.
	Format syslog.Format `yaml:"format"`
	// Timezone is the IANA zone of RFC 3164 timestamps (which carry none);
	// default UTC.
	Timezone string `yaml:"timezone"`
}

// ApplyDefaults fills the zero fields of c with their defaults.
func (c *Config) ApplyDefaults() {
	if c.NodeID == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.NodeID = h
		} else {
			c.NodeID = "ingest"
		}
	}
	setDefault(&c.MaxBatch, DefaultMaxBatch)
	setDefault(&c.MaxWait, DefaultMaxWait)
	setDefault(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	setDefault(&c.MaxLineBytes, DefaultMaxLineBytes)
	setDefault(&c.MaxConns, DefaultMaxConns)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.QueueSize, DefaultQueueSize)
	setDefault(&c.UDPReadBuffer, DefaultUDPReadBuffer)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Format == "" {
			l.Format = syslog.FormatAuto
		}
		if l.Timezone == "" {
			l.Timezone = "UTC"
		}
	}
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate reports every problem of c (call ApplyDefaults first), each
// prefixed with the YAML path of the offending field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.NodeID == "" {
		bad("node_id", "must not be empty")
	}
	if len(c.Listeners) == 0 {
		bad("listeners", "at least one listener is required")
	}
	positive := []struct {
		path string
		v    int64
	}{
		{"max_batch", int64(c.MaxBatch)}, {"max_wait", int64(c.MaxWait)},
		{"max_batch_bytes", int64(c.MaxBatchBytes)}, {"max_line_bytes", int64(c.MaxLineBytes)},
		{"max_conns", int64(c.MaxConns)}, {"idle_timeout", int64(c.IdleTimeout)},
		{"queue_size", int64(c.QueueSize)}, {"udp_read_buffer", int64(c.UDPReadBuffer)},
		{"shutdown_timeout", int64(c.ShutdownTimeout)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.path, "must be positive")
		}
	}
	if c.MaxLineBytes > 1<<20 {
		bad("max_line_bytes", "%d exceeds 1 MiB", c.MaxLineBytes)
	}
	names := map[string]int{}
	binds := map[string]int{}
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if !nameRE.MatchString(l.Name) {
			bad(p+".name", "%q must be 1-64 letters, digits, '_' or '-'", l.Name)
		} else if j, dup := names[l.Name]; dup {
			bad(p+".name", "%q is also the name of listeners[%d]", l.Name, j)
		} else {
			names[l.Name] = i
		}
		if l.Proto != ProtoUDP && l.Proto != ProtoTCP {
			bad(p+".proto", "%q must be udp or tcp", l.Proto)
		}
		if _, port, err := net.SplitHostPort(l.Addr); err != nil {
			bad(p+".addr", "%q is not host:port", l.Addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(p+".addr", "%q: port must be a number 0-65535", l.Addr)
		} else if n != 0 {
			key := l.Proto + " " + l.Addr
			if j, dup := binds[key]; dup {
				bad(p+".addr", "%s %s is also bound by listeners[%d]", l.Proto, l.Addr, j)
			}
			binds[key] = i
		}
		if l.Site == "" {
			bad(p+".site", "must not be empty")
		}
		if !l.Format.Valid() {
			bad(p+".format", "%q must be auto, rfc5424 or rfc3164", l.Format)
		}
		if _, err := time.LoadLocation(l.Timezone); err != nil {
			bad(p+".timezone", "%q: %v", l.Timezone, err)
		}
	}
	return errors.Join(errs...)
}
