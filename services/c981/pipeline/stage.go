package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/c981/c981/services/console/console"
	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/enrich/enrich"
	"github.com/c981/c981/services/ingest/ingest"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/telemetry"
	"github.com/c981/c981/services/store/store"
)

// Stages lists the stage names `c981 <stage>` accepts.
var Stages = []string{"ingest", "enrich", "correlate", "store", "respond", "console"}

// RunStage runs one stage against the external NATS at cfg.NATS.URL, with
// /healthz and /metrics on cfg.MetricsAddr (the console serves them on its
// own address). It blocks until ctx ends.
func RunStage(ctx context.Context, name string, cfg Config, log *slog.Logger) error {
	if cfg.NATS.URL == "" {
		return fmt.Errorf("%s: nats.url (or --nats) is required to run a single stage", name)
	}
	if _, err := ApplyMemoryLimit(cfg, log); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	reg := telemetry.NewRegistry()
	health := &telemetry.Health{}

	var runner interface{ Run(context.Context) error }
	needBus := name != "console"
	if needBus {
		nc, js, err := cfg.NATS.Connect("c981-" + name)
		if err != nil {
			return err
		}
		defer nc.Close()
		health.Register("nats", func() error {
			if !nc.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		})
		streams := func() error { return bus.EnsureStreams(ctx, js, cfg.Streams) }
		if cfg.NATS.CheckStreamsOnly {
			streams = func() error { return bus.CheckStreams(ctx, js) }
		}
		if err := streams(); err != nil {
			return err
		}
		switch name {
		case "ingest":
			runner, err = ingest.New(cfg.Ingest, ingest.Deps{JS: js, Logger: log, Registry: reg})
		case "enrich":
			runner, err = enrich.New(cfg.Enrich, enrich.Deps{JS: js, Logger: log, Registry: reg})
		case "correlate":
			runner, err = correlate.New(cfg.Correlate, correlate.Deps{JS: js, Logger: log, Registry: reg})
		case "respond":
			runner, err = respond.New(cfg.Respond, respond.Deps{JS: js, Logger: log, Registry: reg})
		case "store":
			cfg.ResolveClickHouse()
			conn, cerr := openClickHouse(ctx, cfg.ClickHouse)
			if cerr != nil {
				return cerr
			}
			defer conn.Close()
			health.Register("clickhouse", func() error { return conn.Ping(context.Background()) })
			var sto *store.Service
			sto, err = store.New(cfg.Store, store.Deps{JS: js, Conn: conn, Logger: log, Registry: reg})
			if err == nil {
				health.Register("store", sto.Health)
				runner = sto
			}
		default:
			return fmt.Errorf("unknown stage %q (want one of %v)", name, Stages)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	} else {
		cfg.ResolveClickHouse()
		conn, err := openClickHouse(ctx, cfg.ClickHouse)
		if err != nil {
			return err
		}
		defer conn.Close()
		// The console writes through the bus when one is configured;
		// without nats.url it serves the read-only API.
		var js jetstream.JetStream
		if cfg.NATS.URL != "" {
			nc, bjs, err := cfg.NATS.Connect("c981-console")
			if err != nil {
				return err
			}
			defer nc.Close()
			js = bjs
		}
		con, err := console.New(cfg.Console, console.Deps{Conn: conn, Logger: log, Registry: reg, JS: js})
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		return con.Run(ctx)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return withStage(gctx, name, runner.Run) })
	g.Go(func() error {
		srv := &telemetry.Server{Addr: cfg.MetricsAddr, Registry: reg, Health: health, Logger: log}
		return srv.Run(gctx)
	})
	return g.Wait()
}
