package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/shared/config"
)

func TestConfigYAML(t *testing.T) {
	var cfg Config
	if _, err := config.LoadYAML(filepath.Join("testdata", "ingest.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "ingest-test" || cfg.MaxBatch != 500 || cfg.MaxWait != 20*time.Millisecond ||
		cfg.MaxLineBytes != 8192 || cfg.MaxConns != 16 || cfg.IdleTimeout != 30*time.Second {
		t.Errorf("decoded %+v", cfg)
	}
	if cfg.QueueSize != DefaultQueueSize || cfg.QueueBytes != DefaultQueueBytes || cfg.MaxBatchBytes != DefaultMaxBatchBytes || cfg.ShutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if len(cfg.Listeners) != 2 {
		t.Fatalf("listeners %+v", cfg.Listeners)
	}
	if l := cfg.Listeners[0]; l.Format != syslog.FormatAuto || l.Timezone != "Europe/Berlin" || l.Proto != ProtoUDP {
		t.Errorf("listener 0 %+v", l)
	}
	if l := cfg.Listeners[1]; l.Format != syslog.FormatRFC3164 || l.Timezone != "UTC" || l.Proto != ProtoTCP {
		t.Errorf("listener 1 %+v", l)
	}
}

// TestConfigRateLimitYAML decodes the limits of a listener and checks
// their defaults.
func TestConfigRateLimitYAML(t *testing.T) {
	data := []byte(`listeners:
  - {name: a, proto: tcp, addr: "127.0.0.1:0", site: s, rate_limit: {events_per_second: 1500}}
  - {name: b, proto: udp, addr: "127.0.0.1:0", site: s, rate_limit: {events_per_second: 10, burst: 50}}
  - {name: c, proto: tls, addr: "127.0.0.1:0", site: s, max_conns_per_peer: 4, tls: {cert_file: a, key_file: b}}
`)
	var cfg Config
	if err := config.DecodeYAML("limits.yaml", data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, l := range cfg.Listeners {
		rl := "none"
		if l.RateLimit != nil {
			rl = fmt.Sprintf("%g/s burst %d", l.RateLimit.EventsPerSecond, l.RateLimit.Burst)
		}
		got = append(got, fmt.Sprintf("%s: %s, %d conns per peer", l.Name, rl, l.MaxConnsPerPeer))
	}
	want := []string{"a: 1500/s burst 1500, 64 conns per peer", "b: 10/s burst 50, 0 conns per peer", "c: none, 4 conns per peer"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfigYAMLUnknownField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ingest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("max_batchs: 3\n")...)
	var cfg Config
	err = config.DecodeYAML("ingest.yaml", data, &cfg)
	if err == nil || !strings.Contains(err.Error(), "ingest.yaml:18:") {
		t.Fatalf("err = %v, want an error at ingest.yaml:18", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Listeners: []ListenerConfig{
			{Name: "udp", Proto: "udp", Addr: "127.0.0.1:5514", Site: "demo-plant"},
			{Name: "tcp", Proto: "tcp", Addr: "127.0.0.1:5514", Site: "demo-plant", Format: "rfc5424", Timezone: "Europe/Berlin"},
		}}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{"valid", func(*Config) {}, nil},
		{"no listeners", func(c *Config) { c.Listeners = nil }, []string{"listeners: at least one"}},
		{"negative batch", func(c *Config) { c.MaxBatch = -1 }, []string{"max_batch: must be positive"}},
		{"negative wait", func(c *Config) { c.MaxWait = -time.Second }, []string{"max_wait: must be positive"}},
		{"huge line", func(c *Config) { c.MaxLineBytes = 2 << 20 }, []string{"max_line_bytes: 2097152 exceeds 1 MiB"}},
		{"negative queue bytes", func(c *Config) { c.QueueBytes = -1 }, []string{"queue_bytes: must be positive"}},
		{"http body beyond the queue budget", func(c *Config) {
			c.QueueBytes = 1 << 20
			c.Listeners[1].Proto = "http"
			c.Listeners[1].HTTP = &HTTPConfig{Tokens: []string{"0123456789abcdef"}, MaxBodyBytes: 4 << 20}
		}, []string{"listeners[1].http.max_body_bytes: 4194304: a full request needs twice that of queue_bytes (1048576)"}},
		{"reuseport", func(c *Config) { c.UDPReusePort = true }, func() []string {
			if reusePortSupported {
				return nil
			}
			return []string{"udp_reuseport: SO_REUSEPORT is supported on Linux only"}
		}()},
		{"bad name", func(c *Config) { c.Listeners[0].Name = "a.b" }, []string{`listeners[0].name: "a.b"`}},
		{"duplicate name", func(c *Config) { c.Listeners[1].Name = "udp" }, []string{`listeners[1].name: "udp" is also the name of listeners[0]`}},
		{"bad proto", func(c *Config) { c.Listeners[0].Proto = "sctp" }, []string{`listeners[0].proto: "sctp" must be udp, tcp, tls, http or nats`}},
		{"nats with addr", func(c *Config) { c.Listeners[0].Proto = "nats" }, []string{`listeners[0].addr: a nats listener has no addr`}},
		{"nats section on udp", func(c *Config) { c.Listeners[0].NATS = &NATSConfig{} }, []string{`listeners[0].nats: only allowed with proto nats`}},
		{"tls without tls section", func(c *Config) { c.Listeners[0].Proto = "tls" }, []string{`listeners[0].tls: is required for proto tls`}},
		{"tls section on tcp", func(c *Config) { c.Listeners[1].TLS = &TLSConfig{CertFile: "a", KeyFile: "b"} }, []string{`listeners[1].tls: only allowed with proto tls`}},
		{"tls problems", func(c *Config) {
			c.Listeners[1].Proto = "tls"
			c.Listeners[1].TLS = &TLSConfig{RequireClientCert: true, ReloadInterval: time.Second, Identities: []IdentityMapping{{Identity: "a", Source: "bad source"}, {Identity: "a"}}}
		}, []string{"listeners[1].tls.cert_file", "listeners[1].tls.key_file", "listeners[1].tls.require_client_cert: needs client_ca_file",
			`listeners[1].tls.identities[0].source: "bad source"`, `listeners[1].tls.identities[1].identity: "a" is also mapped by identities[0]`}},
		{"http problems", func(c *Config) {
			c.Listeners[1].Proto = "http"
			c.Listeners[1].HTTP = &HTTPConfig{Tokens: []string{"short"}}
		}, []string{"listeners[1].http.tokens[0]: must be at least 16 characters"}},
		{"http without tokens", func(c *Config) {
			c.Listeners[1].Proto = "http"
			c.Listeners[1].HTTP = &HTTPConfig{}
		}, []string{"listeners[1].http.tokens: at least one bearer token is required"}},
		{"tcp and tls share the port space", func(c *Config) {
			c.Listeners[0].Proto, c.Listeners[1].Proto = "tcp", "http"
			c.Listeners[1].HTTP = &HTTPConfig{Tokens: []string{"0123456789abcdef"}}
		}, []string{"listeners[1].addr: http 127.0.0.1:5514 is also bound by listeners[0]"}},
		{"bad addr", func(c *Config) { c.Listeners[0].Addr = "5514" }, []string{`listeners[0].addr: "5514" is not host:port`}},
		{"bad port", func(c *Config) { c.Listeners[0].Addr = ":99999" }, []string{`listeners[0].addr: ":99999": port must be`}},
		{"same bind twice", func(c *Config) { c.Listeners[1].Proto = "udp" }, []string{"listeners[1].addr: udp 127.0.0.1:5514 is also bound by listeners[0]"}},
		{"port 0 twice is fine", func(c *Config) {
			c.Listeners[0].Addr, c.Listeners[1].Addr, c.Listeners[1].Proto = "127.0.0.1:0", "127.0.0.1:0", "udp"
		}, nil},
		{"no site", func(c *Config) { c.Listeners[1].Site = "" }, []string{"listeners[1].site: must not be empty"}},
		{"bad format", func(c *Config) { c.Listeners[1].Format = "syslog9" }, []string{`listeners[1].format: "syslog9"`}},
		{"bad timezone", func(c *Config) { c.Listeners[1].Timezone = "Mars/Olympus" }, []string{`listeners[1].timezone: "Mars/Olympus"`}},
		{"rate limit defaults the burst to one second", func(c *Config) {
			c.Listeners[0].RateLimit = &RateLimitConfig{EventsPerSecond: 0.5}
			c.Listeners[1].RateLimit = &RateLimitConfig{EventsPerSecond: 2500}
		}, nil},
		{"rate limit problems", func(c *Config) {
			c.Listeners[0].RateLimit = &RateLimitConfig{EventsPerSecond: -1}
			c.Listeners[1].RateLimit = &RateLimitConfig{EventsPerSecond: 10, Burst: -5}
		}, []string{"listeners[0].rate_limit.events_per_second: must be positive", "listeners[1].rate_limit.burst: must be positive"}},
		{"rate limit on nats", func(c *Config) {
			c.Listeners[0].Proto, c.Listeners[0].Addr = "nats", ""
			c.Listeners[0].RateLimit = &RateLimitConfig{EventsPerSecond: 10}
		}, []string{"listeners[0].rate_limit: not allowed with proto nats"}},
		{"max conns per peer on udp", func(c *Config) { c.Listeners[0].MaxConnsPerPeer = 3 }, []string{"listeners[0].max_conns_per_peer: only allowed with proto tcp, tls or http"}},
		{"negative max conns per peer", func(c *Config) { c.Listeners[1].MaxConnsPerPeer = -1 }, []string{"listeners[1].max_conns_per_peer: must be positive"}},
		{"all problems reported", func(c *Config) { c.Listeners[0].Proto = "x"; c.Listeners[1].Site = "" }, []string{"listeners[0].proto", "listeners[1].site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mutate(&c)
			c.ApplyDefaults()
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
