package ingest

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
)

// Transport protocols of a listener.
const (
	ProtoUDP  = "udp"  // one record per datagram (RFC 5426), LF-separated batches accepted
	ProtoTCP  = "tcp"  // RFC 6587: octet counting or newline framing, detected per connection
	ProtoTLS  = "tls"  // RFC 5425 (syslog over TLS), optional mutual TLS; framing as tcp
	ProtoHTTP = "http" // POST /v1/events: one JSON document or NDJSON, bearer token
	ProtoNATS = "nats" // core NATS subject c981.sensor.<site>.<source>, queue group
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
	DefaultQueueBytes      = 64 << 20
	DefaultUDPReadBuffer   = 4 << 20
	DefaultShutdownTimeout = 10 * time.Second
	DefaultFrameTimeout    = 30 * time.Second
	DefaultMaxBodyBytes    = 4 << 20
	DefaultCertReload      = 10 * time.Second
	DefaultRetryAfter      = time.Second
	DefaultPublishWorkers  = 2
	DefaultNATSSubject     = "c981.sensor.>"
	DefaultNATSQueue       = "c981-ingest"
	DefaultNATSMaxSources  = 1024
	// DefaultMaxConnsPerPeer is the default max_conns_per_peer of tcp, tls
	// and http listeners.
	DefaultMaxConnsPerPeer = 64
)

// Config configures the ingest service.
//
//	ingest:
//	  node_id: ingest-1
//	  max_batch: 1000
//	  max_wait: 50ms
//	  max_line_bytes: 65536
//	  max_conns: 512
//	  idle_timeout: 5m
//	  frame_timeout: 30s
//	  queue_size: 10000
//	  queue_bytes: 67108864
//	  udp_read_buffer: 4194304
//	  udp_readers: 2
//	  udp_reuseport: false
//	  publish_workers: 1
//	  listeners:
//	    - {name: syslog-udp, proto: udp, addr: "0.0.0.0:5514", site: demo-plant, timezone: Europe/Berlin}
//	    - {name: syslog-tcp, proto: tcp, addr: "0.0.0.0:5514", site: demo-plant, format: auto,
//	       rate_limit: {events_per_second: 20000, burst: 40000}, max_conns_per_peer: 64}
//	    - name: syslog-tls
//	      proto: tls
//	      addr: "0.0.0.0:6514"
//	      site: demo-plant
//	      tls: {cert_file: /etc/c981/tls/ingest.crt, key_file: /etc/c981/tls/ingest.key,
//	            client_ca_file: /etc/c981/tls/clients-ca.crt, require_client_cert: true,
//	            identities: [{identity: fw-cell-01, source: fw-cell-01}]}
//	    - {name: sensor-http, proto: http, addr: "0.0.0.0:8514", site: demo-plant, http: {tokens: ["<at least 16 chars>"]}}
//	    - {name: sensors, proto: nats, site: demo-plant, nats: {subject: "c981.sensor.>"}}
type Config struct {
	// NodeID names this ingest instance in event ids; default the host name.
	NodeID string `yaml:"node_id"`
	// Listeners are the inputs; at least one.
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
	// MaxConns is the maximum number of concurrent connections per TCP,
	// TLS or HTTP listener; further connections are closed at once.
	MaxConns int `yaml:"max_conns"`
	// IdleTimeout closes a TCP connection that sent nothing for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// QueueSize is the capacity, in records, of the queue between the
	// listeners and the publisher.
	QueueSize int `yaml:"queue_size"`
	// QueueBytes bounds the estimated memory of the records between the
	// listeners and JetStream (queued, batched or awaiting their PubAck):
	// a record costs twice its size plus 1 KiB (the Event and its Fields)
	// until its batch is published. At the bound TCP and TLS stop reading,
	// HTTP answers 429 and NATS requests "busy", UDP records are dropped
	// and counted. Default 64 MiB.
	QueueBytes int `yaml:"queue_bytes"`
	// UDPReadBuffer is the socket receive buffer requested for UDP
	// listeners, in bytes (the kernel may cap it).
	UDPReadBuffer int `yaml:"udp_read_buffer"`
	// ShutdownTimeout bounds publishing the queued records after the
	// context ends.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// FrameTimeout bounds the time from the first to the last byte of one
	// TCP/TLS record and the TLS handshake; a slower client (slowloris) is
	// dead-lettered as slow_client and disconnected.
	FrameTimeout time.Duration `yaml:"frame_timeout"`
	// UDPReaders is the number of goroutines reading each UDP socket;
	// default the number of CPUs.
	UDPReaders int `yaml:"udp_readers"`
	// UDPReusePort gives each of the UDPReaders readers its own socket,
	// all bound to the listener's address with SO_REUSEPORT: the kernel
	// spreads the datagrams over the sockets by flow, each with its own
	// receive buffer (UDPReadBuffer) and drop counter, which scales the
	// receive path over several cores (one sender's flow stays on one
	// socket). Without it the readers share one socket. Linux only; as
	// with any SO_REUSEPORT group, another process of the same user could
	// bind into it, so use it on a host dedicated to ingest.
	UDPReusePort bool `yaml:"udp_reuseport"`
	// PublishWorkers is the number of batches enriched (inline, see
	// Service.EnrichWith) and encoded concurrently. Whatever their number,
	// batches are published in the order they were formed, pipelined (up
	// to 8 sent before the first acknowledgement is awaited), so a
	// source's batches land in order on the stream. Default 2: encoding
	// and inline enrichment are the CPU cost of the publish path. Batches
	// in flight count against QueueBytes until they are acknowledged.
	PublishWorkers int `yaml:"publish_workers"`
}

// ListenerConfig configures one syslog listener.
type ListenerConfig struct {
	// Name identifies the listener; it is the events' Source and a subject
	// token, so it may contain only letters, digits, '_' and '-'.
	Name string `yaml:"name"`
	// Proto is udp, tcp, tls, http or nats (see the Proto* constants).
	Proto string `yaml:"proto"`
	// Addr is the address to listen on, e.g. "0.0.0.0:5514" or
	// "127.0.0.1:0" (any free port; see Service.Addrs); none for nats.
	Addr string `yaml:"addr"`
	// Site is the site id of every event from this listener.
	Site string `yaml:"site"`
	// Format is auto (default), rfc5424 or rfc3164.
	Format syslog.Format `yaml:"format"`
	// Timezone is the IANA zone of RFC 3164 timestamps (which carry none);
	// default UTC.
	Timezone string `yaml:"timezone"`
	// TLS configures a tls listener (required for it, not allowed for
	// others).
	TLS *TLSConfig `yaml:"tls"`
	// HTTP configures an http listener (required for it, not allowed for
	// others).
	HTTP *HTTPConfig `yaml:"http"`
	// NATS configures a nats listener (optional for it, not allowed for
	// others). A nats listener has no addr: it subscribes on the
	// connection of Deps.JS.
	NATS *NATSConfig `yaml:"nats"`
	// RateLimit limits the records per second of each sender of this
	// listener (token bucket per peer IP; per bearer token and peer IP for
	// http): see RateLimitConfig. Default none. Not allowed for nats.
	RateLimit *RateLimitConfig `yaml:"rate_limit"`
	// MaxConnsPerPeer is the maximum number of concurrent connections from
	// one peer IP to a tcp, tls or http listener (further ones are closed
	// at once and counted in
	// c981_ingest_tcp_connections_rejected_per_peer_total), so that one
	// sender cannot take all of MaxConns; default 64.
	MaxConnsPerPeer int `yaml:"max_conns_per_peer"`
}

// NATSConfig configures the input for sensors that publish directly to
// NATS.
//
//	nats:
//	  subject: "c981.sensor.>"
//	  queue: c981-ingest
//	  max_sources: 1024
//
// A message published on c981.sensor.<site>.<source> holds one record (or
// LF-separated records). Its site and source come from the subject (the
// listener's site and name when the subject has other tokens). A message
// with a reply subject (nats request) gets the reply "ok" once its records
// are queued, or "busy" when the queue is full (nothing queued: retry
// later) — the backpressure of this input; a message without one is
// fire-and-forget and counted as dropped when the queue is full.
type NATSConfig struct {
	// Subject is the subscription subject; default "c981.sensor.>".
	Subject string `yaml:"subject"`
	// Queue is the queue group shared by all ingest instances, so that
	// each message is ingested once; default "c981-ingest".
	Queue string `yaml:"queue"`
	// MaxSources bounds the distinct (site, source) pairs taken from
	// subjects; further ones use the listener's site and name.
	MaxSources int `yaml:"max_sources"`
}

// TLSConfig configures an RFC 5425 listener.
//
//	tls:
//	  cert_file: /etc/c981/tls/ingest.crt
//	  key_file: /etc/c981/tls/ingest.key
//	  client_ca_file: /etc/c981/tls/clients-ca.crt  # enables mutual TLS
//	  require_client_cert: true
//	  reload_interval: 10s
//	  identities:
//	    - {identity: fw-cell-01.plant.example, site: plant-north, source: fw-cell-01}
type TLSConfig struct {
	// CertFile and KeyFile are the PEM server certificate (chain) and key.
	// They are re-read when they change (checked every ReloadInterval), so
	// a rotated certificate is used without a restart.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile is a PEM bundle of the CAs that sign client
	// certificates; set, the listener asks for a client certificate and
	// verifies it (mutual TLS). Reloaded like the certificate.
	ClientCAFile string `yaml:"client_ca_file"`
	// RequireClientCert rejects clients without a valid certificate
	// (needs ClientCAFile).
	RequireClientCert bool `yaml:"require_client_cert"`
	// ReloadInterval is how often the files are checked for changes.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// Identities map a client certificate identity (subject CN, else the
	// first DNS/URI/e-mail SAN) to the site and source of its events.
	// Events of unmapped identities get the listener's site and name.
	Identities []IdentityMapping `yaml:"identities"`
}

// IdentityMapping routes the events of one client identity.
type IdentityMapping struct {
	// Identity is the client certificate identity (Event.PeerIdentity).
	Identity string `yaml:"identity"`
	// Site is the site id of its events; default the listener's site.
	Site string `yaml:"site"`
	// Source is the source of its events (a subject token); default the
	// listener's name.
	Source string `yaml:"source"`
}

// HTTPConfig configures the sensor HTTP input (POST /v1/events).
//
//	http:
//	  tokens: ["${C981_SENSOR_TOKEN}"]
//	  max_body_bytes: 4194304
//	  retry_after: 1s
type HTTPConfig struct {
	// Tokens are the accepted bearer tokens (Authorization: Bearer <t>);
	// at least one.
	Tokens []string `yaml:"tokens"`
	// MaxBodyBytes bounds one request body; larger requests get 413.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// RetryAfter is the Retry-After of a 429 answered when the queue has no
	// room for the request's documents.
	RetryAfter time.Duration `yaml:"retry_after"`
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
	setDefault(&c.QueueBytes, DefaultQueueBytes)
	setDefault(&c.UDPReadBuffer, DefaultUDPReadBuffer)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.FrameTimeout, DefaultFrameTimeout)
	setDefault(&c.UDPReaders, runtime.NumCPU())
	setDefault(&c.PublishWorkers, DefaultPublishWorkers)
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.TLS != nil {
			setDefault(&l.TLS.ReloadInterval, DefaultCertReload)
		}
		if l.Proto == ProtoNATS && l.NATS == nil {
			l.NATS = &NATSConfig{}
		}
		if l.NATS != nil {
			if l.NATS.Subject == "" {
				l.NATS.Subject = DefaultNATSSubject
			}
			if l.NATS.Queue == "" {
				l.NATS.Queue = DefaultNATSQueue
			}
			setDefault(&l.NATS.MaxSources, DefaultNATSMaxSources)
		}
		if l.HTTP != nil {
			setDefault(&l.HTTP.MaxBodyBytes, DefaultMaxBodyBytes)
			setDefault(&l.HTTP.RetryAfter, DefaultRetryAfter)
		}
		if l.Format == "" {
			l.Format = syslog.FormatAuto
		}
		if l.Proto == ProtoTCP || l.Proto == ProtoTLS || l.Proto == ProtoHTTP {
			setDefault(&l.MaxConnsPerPeer, DefaultMaxConnsPerPeer)
		}
		if rl := l.RateLimit; rl != nil && rl.Burst == 0 {
			rl.Burst = max(1, int(math.Ceil(rl.EventsPerSecond)))
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
		{"queue_size", int64(c.QueueSize)}, {"queue_bytes", int64(c.QueueBytes)}, {"udp_read_buffer", int64(c.UDPReadBuffer)},
		{"shutdown_timeout", int64(c.ShutdownTimeout)}, {"frame_timeout", int64(c.FrameTimeout)},
		{"udp_readers", int64(c.UDPReaders)}, {"publish_workers", int64(c.PublishWorkers)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.path, "must be positive")
		}
	}
	if c.UDPReusePort && !reusePortSupported {
		bad("udp_reuseport", "SO_REUSEPORT is supported on Linux only")
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
		switch l.Proto {
		case ProtoUDP, ProtoTCP, ProtoTLS, ProtoHTTP, ProtoNATS:
		default:
			bad(p+".proto", "%q must be udp, tcp, tls, http or nats", l.Proto)
		}
		if l.Proto == ProtoNATS {
			if l.NATS != nil && (l.NATS.Subject == "" || strings.ContainsAny(l.NATS.Subject, " \t") || l.NATS.MaxSources <= 0) {
				bad(p+".nats", "subject must be a NATS subject and max_sources positive")
			}
		} else if l.NATS != nil {
			bad(p+".nats", "only allowed with proto nats")
		}
		if l.Proto == ProtoTLS {
			validateTLS(l.TLS, p+".tls", bad)
		} else if l.TLS != nil {
			bad(p+".tls", "only allowed with proto tls")
		}
		if l.Proto == ProtoHTTP {
			validateHTTP(l.HTTP, p+".http", bad)
			if l.HTTP != nil && c.QueueBytes > 0 && 2*int64(l.HTTP.MaxBodyBytes) > int64(c.QueueBytes) {
				bad(p+".http.max_body_bytes", "%d: a full request needs twice that of queue_bytes (%d)", l.HTTP.MaxBodyBytes, c.QueueBytes)
			}
		} else if l.HTTP != nil {
			bad(p+".http", "only allowed with proto http")
		}
		if l.Proto == ProtoNATS {
			if l.Addr != "" {
				bad(p+".addr", "a nats listener has no addr (it uses the NATS connection)")
			}
		} else if _, port, err := net.SplitHostPort(l.Addr); err != nil {
			bad(p+".addr", "%q is not host:port", l.Addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(p+".addr", "%q: port must be a number 0-65535", l.Addr)
		} else if n != 0 {
			key := "tcp " + l.Addr
			if l.Proto == ProtoUDP {
				key = "udp " + l.Addr
			}
			if j, dup := binds[key]; dup {
				bad(p+".addr", "%s %s is also bound by listeners[%d]", l.Proto, l.Addr, j)
			}
			binds[key] = i
		}
		if l.Site == "" {
			bad(p+".site", "must not be empty")
		}
		validateLimits(l, p, bad)
		if !l.Format.Valid() {
			bad(p+".format", "%q is not a known format", l.Format)
		}
		if _, err := time.LoadLocation(l.Timezone); err != nil {
			bad(p+".timezone", "%q: %v", l.Timezone, err)
		}
	}
	return errors.Join(errs...)
}

func validateTLS(t *TLSConfig, p string, bad func(path, format string, args ...any)) {
	if t == nil {
		bad(p, "is required for proto tls (cert_file, key_file)")
		return
	}
	if t.CertFile == "" {
		bad(p+".cert_file", "must not be empty")
	}
	if t.KeyFile == "" {
		bad(p+".key_file", "must not be empty")
	}
	if t.RequireClientCert && t.ClientCAFile == "" {
		bad(p+".require_client_cert", "needs client_ca_file")
	}
	if t.ReloadInterval <= 0 {
		bad(p+".reload_interval", "must be positive")
	}
	ids := map[string]int{}
	for i, m := range t.Identities {
		q := fmt.Sprintf("%s.identities[%d]", p, i)
		if m.Identity == "" {
			bad(q+".identity", "must not be empty")
		} else if j, dup := ids[m.Identity]; dup {
			bad(q+".identity", "%q is also mapped by identities[%d]", m.Identity, j)
		} else {
			ids[m.Identity] = i
		}
		if m.Source != "" && !nameRE.MatchString(m.Source) {
			bad(q+".source", "%q must be 1-64 letters, digits, '_' or '-'", m.Source)
		}
		if m.Site != "" && !nameRE.MatchString(m.Site) {
			bad(q+".site", "%q must be 1-64 letters, digits, '_' or '-'", m.Site)
		}
	}
}

func validateHTTP(h *HTTPConfig, p string, bad func(path, format string, args ...any)) {
	if h == nil {
		bad(p, "is required for proto http (tokens)")
		return
	}
	if len(h.Tokens) == 0 {
		bad(p+".tokens", "at least one bearer token is required")
	}
	for i, tok := range h.Tokens {
		if len(tok) < 16 {
			bad(fmt.Sprintf("%s.tokens[%d]", p, i), "must be at least 16 characters")
		}
	}
	if h.MaxBodyBytes <= 0 {
		bad(p+".max_body_bytes", "must be positive")
	}
	if h.RetryAfter <= 0 {
		bad(p+".retry_after", "must be positive")
	}
}

func validateLimits(l ListenerConfig, p string, bad func(path, format string, args ...any)) {
	if rl := l.RateLimit; rl != nil {
		if l.Proto == ProtoNATS {
			bad(p+".rate_limit", "not allowed with proto nats (the sensors publish through the NATS server's own limits)")
		}
		if !(rl.EventsPerSecond > 0) || math.IsInf(rl.EventsPerSecond, 0) {
			bad(p+".rate_limit.events_per_second", "must be positive")
		}
		if rl.Burst <= 0 {
			bad(p+".rate_limit.burst", "must be positive")
		}
	}
	switch l.Proto {
	case ProtoTCP, ProtoTLS, ProtoHTTP:
		if l.MaxConnsPerPeer <= 0 {
			bad(p+".max_conns_per_peer", "must be positive")
		}
	default:
		if l.MaxConnsPerPeer != 0 {
			bad(p+".max_conns_per_peer", "only allowed with proto tcp, tls or http")
		}
	}
}
