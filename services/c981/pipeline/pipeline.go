package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/c981/c981/services/c981/chserver"
	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/enrich/enrich"
	"github.com/c981/c981/services/ingest/ingest"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/natsserver"
	"github.com/c981/c981/services/shared/telemetry"
	"github.com/c981/c981/services/store/chstore"
	"github.com/c981/c981/services/store/store"
)

// Ready describes a running all-in-one pipeline.
type Ready struct {
	// NATSURL is the bus's client URL.
	NATSURL string
	// ClickHouseAddr is the native address in use.
	ClickHouseAddr string
	// Listeners are the ingest listeners with their bound addresses.
	Listeners []Listener
	// ConsoleURL is the console's base URL.
	ConsoleURL string
	// TelemetryURL serves /healthz (every stage's checks) and /metrics.
	TelemetryURL string
}

// Listener is one bound ingest listener.
type Listener struct {
	Name, Proto, Addr string
}

// AllInOne runs every stage in one process.
type AllInOne struct {
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry
	ready    chan Ready
}

// NewAllInOne validates cfg and returns the pipeline; Run starts it.
func NewAllInOne(cfg Config, log *slog.Logger) (*AllInOne, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("all-in-one: data_dir is required")
	}
	return &AllInOne{cfg: cfg, log: log, registry: telemetry.NewRegistry(), ready: make(chan Ready, 1)}, nil
}

// Ready delivers the addresses once every stage is up.
func (p *AllInOne) Ready() <-chan Ready { return p.ready }

// Registry is the Prometheus registry every stage registers with.
func (p *AllInOne) Registry() *prometheus.Registry { return p.registry }

// Run starts the bus, storage and all stages and blocks until ctx ends or a
// stage fails; it then stops everything gracefully.
func (p *AllInOne) Run(ctx context.Context) error {
	cfg := p.cfg
	if _, err := ApplyMemoryLimit(cfg, p.log); err != nil {
		return err
	}
	// The bus: an external NATS or an embedded server.
	natsURL := cfg.NATS.URL
	var connOpts []nats.Option
	if natsURL == "" {
		dir, err := cfg.dir("nats")
		if err != nil {
			return err
		}
		host, port, err := splitListen(cfg.NATS.Listen)
		if err != nil {
			return err
		}
		// The server's goroutines (accept loop, clients, JetStream) are
		// started from here and carry the nats-server profile label.
		var srv *server.Server
		err = withStage(ctx, "nats-server", func(context.Context) error {
			var err error
			srv, err = natsserver.Start(natsserver.Config{Host: host, Port: port, StoreDir: dir, SyncAlways: cfg.NATS.SyncAlways})
			return err
		})
		if err != nil {
			return err
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		natsURL = srv.ClientURL()
		p.log.Info("embedded NATS JetStream started", "url", natsURL, "store", dir)
		// The stages reach the embedded server through an in-process pipe,
		// not loopback TCP: no socket system calls per message (a 1 MiB
		// batch is otherwise read in 32-64 KiB chunks on each side;
		// BenchmarkBusHop conn=inprocess). The listener still serves
		// external clients.
		connOpts = append(connOpts, nats.InProcessServer(srv))
	}
	nc, js, err := bus.Connect(natsURL, "c981-run", connOpts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := bus.EnsureStreams(ctx, js, cfg.Streams); err != nil {
		return err
	}
	if err := bus.EnsureBuckets(ctx, js, cfg.Streams); err != nil {
		return err
	}

	// Storage: a configured ClickHouse or a local child server.
	cfg.ResolveClickHouse()
	if len(cfg.ClickHouse.Addrs) == 0 {
		dir, err := cfg.dir("clickhouse")
		if err != nil {
			return err
		}
		p.log.Info("starting a local ClickHouse server", "dir", dir)
		ch, err := chserver.Start(ctx, chserver.Config{Dir: dir})
		if err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		defer func() {
			if err := ch.Stop(); err != nil {
				p.log.Warn("stop clickhouse", "err", err)
			}
		}()
		cfg.ClickHouse.Addrs = []string{ch.Addr()}
		cfg.ResolveClickHouse()
		p.log.Info("local ClickHouse started", "addr", ch.Addr())
	}
	conn, err := openClickHouse(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()

	conns := &stageConns{url: natsURL, opts: connOpts}
	defer conns.close()
	return p.runStages(ctx, cfg, nc, conns, conn, natsURL)
}

// stageConns dials one NATS connection per stage of the all-in-one run
// (in-process when the server is embedded). A connection has one read loop
// and one outbound buffer: shared by every stage, correlate's small
// KV writes and PubAcks queued behind the megabytes of ingest and store
// traffic, which made its per-message round trips, and so its lag, grow
// with the load (docs/BENCHMARKS.md, session 5).
type stageConns struct {
	url  string
	opts []nats.Option
	ncs  []*nats.Conn
}

// js connects stage name ("c981-run-<name>") and returns its JetStream
// context.
func (c *stageConns) js(name string) (jetstream.JetStream, error) {
	nc, js, err := bus.Connect(c.url, "c981-run-"+name, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.ncs = append(c.ncs, nc)
	return js, nil
}

// connected reports the first stage connection that is not connected.
func (c *stageConns) connected() error {
	for _, nc := range c.ncs {
		if !nc.IsConnected() {
			return fmt.Errorf("%s: not connected", nc.Opts.Name)
		}
	}
	return nil
}

func (c *stageConns) close() {
	for _, nc := range c.ncs {
		nc.Close()
	}
}

func (p *AllInOne) runStages(ctx context.Context, cfg Config, nc *nats.Conn, conns *stageConns, conn driver.Conn, natsURL string) error {
	log, reg := p.log, p.registry
	health := &telemetry.Health{}
	health.Register("nats", func() error {
		if !nc.IsConnected() {
			return errors.New("not connected")
		}
		return conns.connected()
	})
	js := map[string]jetstream.JetStream{}
	for _, name := range []string{"ingest", "enrich", "correlate", "store", "respond", "console"} {
		var err error
		if js[name], err = conns.js(name); err != nil {
			return err
		}
	}

	ing, err := ingest.New(cfg.Ingest, ingest.Deps{JS: js["ingest"], Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	enr, err := enrich.New(cfg.Enrich, enrich.Deps{JS: js["enrich"], Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	if !cfg.RawStream {
		ing.EnrichWith(enr)
	}
	cor, err := correlate.New(cfg.Correlate, correlate.Deps{JS: js["correlate"], Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	sto, err := store.New(cfg.Store, store.Deps{JS: js["store"], Conn: conn, Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	res, err := respond.New(cfg.Respond, respond.Deps{JS: js["respond"], Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	con, err := console.New(cfg.Console, console.Deps{Conn: conn, Logger: log, Registry: reg, JS: js["console"]})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	health.Register("clickhouse", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return conn.Ping(ctx)
	})
	health.Register("store", sto.Health)
	tel := &telemetry.Server{Addr: cfg.MetricsAddr, Registry: reg, Health: health, Logger: log}
	telLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	run := func(name string, f func(context.Context) error) {
		g.Go(func() error {
			if err := withStage(gctx, name, f); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	run("store", sto.Run)
	run("respond", res.Run)
	run("correlate", cor.Run)
	run("enrich", enr.Run)
	run("ingest", ing.Run)
	run("console", con.Run)
	run("telemetry", func(ctx context.Context) error { return tel.Serve(ctx, telLn) })
	g.Go(func() error {
		select {
		case <-ing.Ready():
		case <-gctx.Done():
			return nil
		}
		select {
		case <-con.Ready():
		case <-gctx.Done():
			return nil
		}
		addrs := ing.Addrs()
		var ls []Listener
		for _, l := range cfg.Ingest.Listeners {
			ls = append(ls, Listener{Name: l.Name, Proto: l.Proto, Addr: addrs[l.Name]})
		}
		p.ready <- Ready{
			NATSURL:        natsURL,
			ClickHouseAddr: cfg.ClickHouse.Addrs[0],
			Listeners:      ls,
			ConsoleURL:     "http://" + con.Addr(),
			TelemetryURL:   "http://" + telLn.Addr().String(),
		}
		return nil
	})
	return g.Wait()
}

func openClickHouse(ctx context.Context, cc chstore.ConnConfig) (driver.Conn, error) {
	cc.CreateDatabase = true
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %v: %w", cc.Addrs, err)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chstore.Migrate(mctx, conn, store.Migrations()); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// splitListen parses "host:port" (port -1 or 0 = any free port).
func splitListen(addr string) (string, int, error) {
	if addr == "" {
		return "127.0.0.1", -1, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("nats listen %q: %w", addr, err)
	}
	var port int
	if _, err := fmt.Sscanf(portStr, "%d", &port); err != nil {
		return "", 0, fmt.Errorf("nats listen %q: bad port", addr)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}
