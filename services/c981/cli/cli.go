package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/c981/c981/services/c981/pipeline"
	"github.com/c981/c981/services/shared/telemetry"
)

const usage = `c981 — OT incident correlation pipeline

Usage:
  c981 run [--demo] [flags]          all stages in one process (embedded NATS JetStream,
                                     ClickHouse from CLICKHOUSE_ADDR or a local child server)
  c981 <stage> --nats URL [flags]    one stage against an external NATS:
                                     ingest, enrich, correlate, store, respond, console
  c981 parse [--format F] [FILE...]  raw syslog lines -> normalized event JSON lines
  c981 analyze --site FILE --rules DIR --playbooks DIR [FILE...]
                                     parse -> enrich -> correlate -> respond, in-process
  c981 migrate [--clickhouse ADDR]   apply the ClickHouse migrations
  c981 help                          this text

Run 'c981 <command> -h' for the flags of a command.
`

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch {
	case cmd == "run":
		err = runCmd(ctx, rest, stdout, stderr)
	case slices.Contains(pipeline.Stages, cmd):
		err = stageCmd(ctx, cmd, rest, stderr)
	case cmd == "parse":
		err = parseCmd(rest, stdin, stdout, stderr)
	case cmd == "analyze":
		err = analyzeCmd(rest, stdin, stdout, stderr)
	case cmd == "migrate":
		err = migrateCmd(ctx, rest, stdout, stderr)
	case commands[cmd].run != nil:
		err = commands[cmd].run(ctx, rest, stdin, stdout, stderr)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage+moreUsage())
		return 0
	default:
		fmt.Fprintf(stderr, "c981: unknown command %q\n\n%s%s", cmd, usage, moreUsage())
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "c981 %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// command is a subcommand registered by a file of this package.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands holds the subcommands registered with register.
var commands = map[string]command{}

// register adds a subcommand; each command's file calls it from init.
// A duplicate name panics at start-up.
func register(name, summary string, run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("c981: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

// moreUsage lists the registered commands.
func moreUsage() string {
	if len(commands) == 0 {
		return ""
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("\nMore commands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  c981 %-28s %s\n", n, commands[n].summary)
	}
	return b.String()
}

// common holds the flags shared by run and the stage commands; each
// overrides its config field only when given.
type common struct {
	config     string
	dataDir    string
	nats       string
	clickhouse string
	metrics    string
	sites      stringList
	rules      string
	playbooks  string
	console    string
	logLevel   string
	logFormat  string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML config file (default: built-in demo plant config)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory for the embedded NATS and ClickHouse (default var/c981)")
	fs.StringVar(&c.nats, "nats", "", "external NATS URL")
	fs.StringVar(&c.clickhouse, "clickhouse", "", "ClickHouse native address host:port (default $CLICKHOUSE_ADDR)")
	fs.StringVar(&c.metrics, "metrics", "", "address for /healthz and /metrics of a single stage")
	fs.Var(&c.sites, "site", "site model YAML file (repeatable)")
	fs.StringVar(&c.rules, "rules", "", "rules directory")
	fs.StringVar(&c.playbooks, "playbooks", "", "playbooks directory")
	fs.StringVar(&c.console, "console", "", "console listen address")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "", "text or json")
}

// load reads the config file and applies the flags over it.
func (c *common) load() (pipeline.Config, error) {
	cfg, err := pipeline.Load(c.config)
	if err != nil {
		return cfg, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.DataDir, c.dataDir)
	set(&cfg.NATS.URL, c.nats)
	set(&cfg.MetricsAddr, c.metrics)
	set(&cfg.Correlate.RulesDir, c.rules)
	set(&cfg.Respond.PlaybooksDir, c.playbooks)
	set(&cfg.Console.Addr, c.console)
	set(&cfg.Log.Level, c.logLevel)
	set(&cfg.Log.Format, c.logFormat)
	if c.clickhouse != "" {
		cfg.ClickHouse.Addrs = []string{c.clickhouse}
	}
	if len(c.sites) > 0 {
		cfg.Enrich.Sites = c.sites
		cfg.Respond.Sites = c.sites
		cfg.Console.Sites = c.sites
	}
	return cfg, nil
}

func logger(w io.Writer, cfg pipeline.Config) *slog.Logger {
	return telemetry.NewLogger(w, cfg.Log.Level, cfg.Log.Format)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("c981 "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
