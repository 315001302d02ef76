package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/enrich/enrich"
	"github.com/c981/c981/services/ingest/ingest"
	"github.com/c981/c981/services/ingest/syslog"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// Config is the whole C-981 configuration: one YAML file (see
// deploy/c981.yaml) whose sections configure each stage, overridable by
// flags.
type Config struct {
	// DataDir holds the embedded NATS store and the child ClickHouse data.
	DataDir string `yaml:"data_dir"`
	// Log configures the structured logger.
	Log LogConfig `yaml:"log"`
	// NATS says where the bus is.
	NATS NATSConfig `yaml:"nats"`
	// Streams sizes the JetStream streams.
	Streams bus.StreamOptions `yaml:"streams"`
	// ClickHouse is the storage connection shared by store and console.
	ClickHouse chstore.ConnConfig `yaml:"clickhouse"`
	// MetricsAddr serves /healthz and /metrics of a single stage run alone
	// (`c981 <stage>`); the all-in-one run serves them on the console.
	MetricsAddr string `yaml:"metrics_addr"`
	// MemoryLimit is the Go runtime's soft memory limit for the process
	// (runtime/debug.SetMemoryLimit), e.g. "1GiB" or "1536MiB"; empty means
	// DefaultMemoryLimit (2 GiB), "off" means none. The GOMEMLIMIT
	// environment variable, when set, wins over it. Together with the bus
	// pull budgets and the store's batch bounds it keeps the resident set
	// of the all-in-one pipeline bounded under a backlog.
	MemoryLimit string `yaml:"memory_limit"`
	// RawStream makes the all-in-one run publish parsed events to
	// C981_RAW for the enrich stage's consumer, as separately run stages
	// do. By default (false) the all-in-one ingest enriches each batch in
	// its publish path (enrich.Service.EnrichInline) and publishes it
	// straight to C981_EVENTS: one stream write, one encoding and one
	// decoding less per event, the largest cost of the pipeline
	// (docs/BENCHMARKS.md). The enrich stage's consumer on C981_RAW runs
	// either way, for raw batches of other ingests (site leaf nodes).
	// `c981 ingest` run alone always publishes to C981_RAW.
	RawStream bool `yaml:"raw_stream"`

	Ingest    ingest.Config    `yaml:"ingest"`
	Enrich    enrich.Config    `yaml:"enrich"`
	Correlate correlate.Config `yaml:"correlate"`
	Store     store.Config     `yaml:"store"`
	Respond   respond.Config   `yaml:"respond"`
	Console   console.Config   `yaml:"console"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// NATSConfig locates the bus.
type NATSConfig struct {
	// URL of an external NATS server; empty runs an embedded one (c981 run).
	URL string `yaml:"url"`
	// Listen is the embedded server's client address (host:port; port -1 =
	// any free port).
	Listen string `yaml:"listen"`
	// SyncAlways makes the embedded server fsync every write before
	// acknowledging it.
	SyncAlways bool `yaml:"sync_always"`
	// CheckStreamsOnly makes a single stage (`c981 <stage>`) only check that
	// the streams exist instead of creating or updating them, so its NATS
	// user needs no stream-management permission (streams are then
	// provisioned by `c981 nats-provision`).
	CheckStreamsOnly bool `yaml:"check_streams_only"`
	// TLS holds the CA and the client certificate for an external NATS
	// that requires them (tls:// URLs).
	TLS bus.TLS `yaml:"tls"`
}

// Connect dials the external NATS at URL as name with the TLS settings.
func (n NATSConfig) Connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	opts, err := n.TLS.Options()
	if err != nil {
		return nil, nil, err
	}
	return bus.Connect(n.URL, name, opts...)
}

// Default returns the configuration of the bundled demo plant, with paths
// relative to the repository root.
func Default() Config {
	return Config{
		DataDir: "var/c981",
		Log:     LogConfig{Level: "info", Format: "text"},
		NATS:    NATSConfig{Listen: "127.0.0.1:4222"},
		Streams: bus.DefaultStreamOptions(),
		ClickHouse: chstore.ConnConfig{
			Database: "c981",
		},
		MetricsAddr: "127.0.0.1:9981",
		Ingest: ingest.Config{
			Listeners: []ingest.ListenerConfig{
				{Name: "syslog-tcp", Proto: "tcp", Addr: "127.0.0.1:5514", Site: "demo-plant", Format: syslog.FormatAuto, Timezone: "UTC"},
				{Name: "syslog-udp", Proto: "udp", Addr: "127.0.0.1:5514", Site: "demo-plant", Format: syslog.FormatAuto, Timezone: "UTC"},
			},
		},
		Enrich:    enrich.Config{Sites: []string{"deploy/demo/site.yaml"}},
		Correlate: correlate.Config{RulesDir: "rules"},
		Respond:   respond.Config{PlaybooksDir: "playbooks", Sites: []string{"deploy/demo/site.yaml"}, Audit: true},
		Console:   console.Config{Addr: "127.0.0.1:8981", Sites: []string{"deploy/demo/site.yaml"}},
	}
}

// Load reads a YAML config file over the defaults. Paths inside it are
// taken relative to the current directory.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	data, err := config.LoadYAML(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("load config: %w", err)
	}
	if _, err := cfg.memoryLimit(); err != nil {
		return cfg, fmt.Errorf("load config: %s:%d: %w", path, config.Line(data, "$.memory_limit"), err)
	}
	return cfg, nil
}

// ResolveClickHouse fills the ClickHouse address from CLICKHOUSE_ADDR when
// the config names none, and copies the connection to store and console.
func (c *Config) ResolveClickHouse() {
	if len(c.ClickHouse.Addrs) == 0 {
		if a := os.Getenv("CLICKHOUSE_ADDR"); a != "" {
			c.ClickHouse.Addrs = []string{a}
		}
	}
	c.Store.ClickHouse = c.ClickHouse
	c.Console.ClickHouse = console.ClickHouseConfig{
		Addr:         console.Addrs(c.ClickHouse.Addrs),
		Database:     c.ClickHouse.Database,
		User:         c.ClickHouse.Username,
		Password:     c.ClickHouse.Password,
		PasswordEnv:  c.ClickHouse.PasswordEnv,
		PasswordFile: c.ClickHouse.PasswordFile,
		TLS:          console.ClickHouseTLSConfig(c.ClickHouse.TLS),
	}
}

// dir returns a directory under DataDir, created.
func (c *Config) dir(name string) (string, error) {
	d := filepath.Join(c.DataDir, name)
	if err := os.MkdirAll(d, 0o750); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return d, nil
}
