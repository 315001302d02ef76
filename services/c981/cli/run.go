package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/c981/c981/services/c981/demo"
	"github.com/c981/c981/services/c981/pipeline"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	var c common
	c.register(fs)
	demoMode := fs.Bool("demo", false, "replay the bundled demo plant scenario through the syslog listener")
	demoFile := fs.String("demo-file", "deploy/demo/scenario.log", "scenario replayed by --demo")
	natsListen := fs.String("nats-listen", "", "embedded NATS client address (default 127.0.0.1:4222)")
	tcpAddr := fs.String("syslog-tcp", "", "address of the syslog TCP listener (overrides the config's tcp listener)")
	udpAddr := fs.String("syslog-udp", "", "address of the syslog UDP listener (overrides the config's udp listener)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6060; off by default); CPU samples carry a stage label")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if *natsListen != "" {
		cfg.NATS.Listen = *natsListen
	}
	for i := range cfg.Ingest.Listeners {
		l := &cfg.Ingest.Listeners[i]
		if l.Proto == "tcp" && *tcpAddr != "" {
			l.Addr = *tcpAddr
		}
		if l.Proto == "udp" && *udpAddr != "" {
			l.Addr = *udpAddr
		}
	}
	log := logger(stderr, cfg)
	p, err := pipeline.NewAllInOne(cfg, log)
	if err != nil {
		return err
	}
	var prof *pipeline.PprofServer
	if *pprofAddr != "" {
		if prof, err = pipeline.ListenPprof(*pprofAddr); err != nil {
			fmt.Fprintf(stderr, "c981 run: --pprof: %v\n", err)
			return errUsage
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	if prof != nil {
		profDone := make(chan struct{})
		go func() {
			defer close(profDone)
			if err := prof.Run(ctx, log); err != nil {
				log.Error("pprof endpoint stopped", "err", err)
			}
		}()
		defer func() { cancel(); <-profDone }()
	}
	var ready pipeline.Ready
	select {
	case err := <-errc:
		return err
	case ready = <-p.Ready():
	}
	fmt.Fprintf(stdout, "C-981 is running (Ctrl-C stops it)\n")
	for _, l := range ready.Listeners {
		fmt.Fprintf(stdout, "  syslog %-4s        %s (%s)\n", l.Proto, l.Addr, l.Name)
	}
	fmt.Fprintf(stdout, "  console            %s/ (web UI), %s/api/incidents (API)\n", ready.ConsoleURL, ready.ConsoleURL)
	fmt.Fprintf(stdout, "  health, metrics    %s/healthz %s/metrics\n", ready.TelemetryURL, ready.TelemetryURL)
	fmt.Fprintf(stdout, "  NATS JetStream     %s\n", ready.NATSURL)
	fmt.Fprintf(stdout, "  ClickHouse         %s (database %s)\n", ready.ClickHouseAddr, cfg.ClickHouse.Database)
	if prof != nil {
		fmt.Fprintf(stdout, "  pprof              http://%s/debug/pprof/ (label %s=<stage>)\n", prof.Addr(), pipeline.StageLabel)
	}
	if *demoMode {
		if err := runDemo(ctx, stdout, *demoFile, ready); err != nil {
			cancel()
			<-errc
			return err
		}
	}
	return <-errc
}

// runDemo replays the scenario into the TCP listener and waits until the
// console shows its incidents.
func runDemo(ctx context.Context, stdout io.Writer, file string, ready pipeline.Ready) error {
	addr := ""
	for _, l := range ready.Listeners {
		if l.Proto == "tcp" {
			addr = l.Addr
			break
		}
	}
	if addr == "" {
		return fmt.Errorf("demo: no TCP syslog listener configured")
	}
	n, err := demo.Replay(ctx, addr, file)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "demo: replayed %d lines of %s into %s\n", n, file, addr)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		list, err := fetchIncidents(ctx, ready.ConsoleURL)
		if err == nil && len(list) > 0 {
			time.Sleep(2 * time.Second) // let the last alerts of the scenario land
			if l2, err := fetchIncidents(ctx, ready.ConsoleURL); err == nil {
				list = l2
			}
			fmt.Fprintf(stdout, "demo: %d incidents in ClickHouse — open %s/ (web UI)\n", len(list), ready.ConsoleURL)
			for _, inc := range list {
				fmt.Fprintf(stdout, "  %-8s %-40s %s (%v)\n", inc.Severity, inc.Key, inc.Title, inc.RuleIDs)
			}
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("demo: no incident visible at %s/api/incidents after 60s", ready.ConsoleURL)
}

type incidentSummary struct {
	Severity string   `json:"severity"`
	Key      string   `json:"key"`
	Title    string   `json:"title"`
	RuleIDs  []string `json:"rule_ids"`
}

func fetchIncidents(ctx context.Context, base string) ([]incidentSummary, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/incidents?limit=100", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("console: %s", resp.Status)
	}
	var body struct {
		Incidents []incidentSummary `json:"incidents"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return body.Incidents, nil
}

func stageCmd(ctx context.Context, name string, args []string, stderr io.Writer) error {
	fs := newFlagSet(name, stderr)
	var c common
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if name == "enrich" && cfg.NATS.URL == "" && len(c.sites) > 0 {
		// Offline: enrich JSON lines from stdin (or files) to stdout.
		return enrichOffline(c.sites, fs.Args(), os.Stdin, os.Stdout, stderr)
	}
	return pipeline.RunStage(ctx, name, cfg, logger(stderr, cfg))
}
