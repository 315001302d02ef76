package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/ingest/ingest"
	"github.com/c981/c981/services/shared/bus"
	"github.com/c981/c981/services/shared/natsserver"
)

func init() {
	register("loadgen-ingest", "--tcp ADDR [--http ADDR --token T] [--nats-port N]: ingest alone on an embedded JetStream, the receiving process of a load measurement", loadgenIngestCmd)
}

// loadgenIngestCmd runs the receiving side of a two-process load
// measurement: an embedded JetStream server and the ingest stage with a
// syslog TCP listener (and optionally an HTTP one), nothing downstream. It
// prints the listener and NATS addresses, then every second in which
// events were published their total and its CPU time so far, runs until
// SIGINT/SIGTERM, then prints the events published and its CPU time. With --cpuprofile it
// writes a CPU profile of the whole run (ingest and nats-server).
//
//	c981 loadgen-ingest --tcp 127.0.0.1:5514 --nats-port 4333 &
//	c981 loadgen --addr 127.0.0.1:5514 --count 3000000 --run r1 --verify-raw nats://127.0.0.1:4333
func loadgenIngestCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen-ingest", stderr)
	tcpAddr := fs.String("tcp", "127.0.0.1:5514", "syslog TCP listener address")
	httpAddr := fs.String("http", "", "HTTP /v1/events listener address (off when empty)")
	token := fs.String("token", "", "bearer token of the HTTP listener (default $C981_SENSOR_TOKEN)")
	natsPort := fs.Int("nats-port", -1, "port of the embedded NATS server on 127.0.0.1 (-1: a free one)")
	storeDir := fs.String("store-dir", "", "JetStream directory (default a temporary one, removed at exit)")
	workers := fs.Int("publish-workers", 0, "ingest publish_workers (0: the default)")
	maxBatch := fs.Int("max-batch", 0, "ingest max_batch (0: the default)")
	syncAlways := fs.Bool("sync-always", false, "JetStream fsyncs every write before acknowledging it")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	compression := fs.String("compression", "none", "C981_RAW storage compression: none or s2 (to measure its cost)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *tcpAddr == "" {
		fmt.Fprintln(stderr, "usage: c981 loadgen-ingest [--tcp ADDR] [--http ADDR --token T] [--nats-port N] [--store-dir DIR] [--cpuprofile FILE]")
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("loadgen-ingest: --log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dir := *storeDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "c981-loadgen-ingest")
		if err != nil {
			return fmt.Errorf("loadgen-ingest: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("loadgen-ingest: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("loadgen-ingest: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	ns, err := natsserver.Start(natsserver.Config{Port: *natsPort, StoreDir: dir, SyncAlways: *syncAlways})
	if err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, js, err := bus.Connect(ns.ClientURL(), "c981-loadgen-ingest")
	if err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}
	defer nc.Close()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}
	if err := setRawCompression(ctx, js, *compression); err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}

	cfg := ingest.Config{
		NodeID: "loadgen-ingest", PublishWorkers: *workers, MaxBatch: *maxBatch,
		Listeners: []ingest.ListenerConfig{{Name: "syslog-tcp", Proto: ingest.ProtoTCP, Addr: *tcpAddr, Site: "load-plant"}},
	}
	if *httpAddr != "" {
		if *token == "" {
			*token = os.Getenv("C981_SENSOR_TOKEN")
		}
		cfg.Listeners = append(cfg.Listeners, ingest.ListenerConfig{
			Name: "sensor-http", Proto: ingest.ProtoHTTP, Addr: *httpAddr, Site: "load-plant",
			HTTP: &ingest.HTTPConfig{Tokens: []string{*token}},
		})
	}
	reg := prometheus.NewRegistry()
	svc, err := ingest.New(cfg, ingest.Deps{JS: js, Logger: log, Registry: reg})
	if err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}
	cpu0, start := processCPU(), time.Now()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case err := <-done:
		return fmt.Errorf("loadgen-ingest: %w", err)
	case <-svc.Ready():
	}
	for name, addr := range svc.Addrs() {
		fmt.Fprintf(stdout, "listening %s %s\n", name, addr)
	}
	fmt.Fprintf(stdout, "nats %s\n", ns.ClientURL())
	// A line whenever the published count changed in the last second: the
	// CPU time when it reached the load's count is the cost of the load
	// alone (a verifier reading the stream later costs the server CPU too).
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last uint64
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("loadgen-ingest: %w", err)
			}
			running = false
		case <-tick.C:
			if n, err := publishedEvents(reg); err == nil && n != last {
				last = n
				fmt.Fprintf(stdout, "published %d events, process CPU %.2f s, %s\n", n, (processCPU() - cpu0).Seconds(), time.Since(start).Round(time.Millisecond))
			}
		}
	}
	published, err := publishedEvents(reg)
	if err != nil {
		return fmt.Errorf("loadgen-ingest: %w", err)
	}
	fmt.Fprintf(stdout, "loadgen-ingest: %d events published; process CPU %.2f s (ingest and nats-server) in %s\n",
		published, (processCPU() - cpu0).Seconds(), time.Since(start).Round(time.Millisecond))
	return nil
}

// publishedEvents sums c981_ingest_published_events_total.
func publishedEvents(reg *prometheus.Registry) (uint64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "c981_ingest_published_events_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return uint64(n), nil
}

// setRawCompression sets the storage compression of C981_RAW.
func setRawCompression(ctx context.Context, js jetstream.JetStream, name string) error {
	var c jetstream.StoreCompression
	switch name {
	case "none":
		return nil
	case "s2":
		c = jetstream.S2Compression
	default:
		return fmt.Errorf("--compression %q must be none or s2", name)
	}
	st, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		return err
	}
	sc := st.CachedInfo().Config
	sc.Compression = c
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("set %s compression %s: %w", bus.StreamRaw, name, err)
	}
	return nil
}
