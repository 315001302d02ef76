package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/c981/c981/services/c981/verify"
	"github.com/c981/c981/services/store/chstore"
)

func init() {
	register("verify", "report sent, stored, missing, duplicated and latency of a loadgen run from ClickHouse", verifyCmd)
}

// errNotClean is returned by verify --strict when events are missing or
// duplicated.
var errNotClean = errors.New("events missing or duplicated")

// verifyCmd reads the events of one loadgen run from ClickHouse and
// reports what was stored, lost and duplicated, and the latencies.
func verifyCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	var (
		config, addr, db string
		opts             verify.Options
		asJSON, strict   bool
		timeout          time.Duration
	)
	fs.StringVar(&opts.Run, "run", "", "loadgen run id (required)")
	fs.StringVar(&config, "config", "", "YAML config file; its clickhouse section says where the events are")
	fs.StringVar(&addr, "clickhouse", "", "ClickHouse native address host:port (default $CLICKHOUSE_ADDR)")
	fs.StringVar(&db, "database", "", "ClickHouse database (default: the config's, c981)")
	fs.Uint64Var(&opts.Expect, "expect", 0, "number of records sent (default: the highest stored sequence number)")
	fs.Uint64Var(&opts.First, "first", 1, "first sequence number sent")
	fs.IntVar(&opts.MaxRanges, "ranges", 20, "list at most this many missing sequence ranges")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object (keys sent, stored, missing, duplicated, rate, latency_ms, ...)")
	fs.BoolVar(&strict, "strict", false, "exit with status 1 when any event is missing or duplicated")
	fs.DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: c981 verify --run ID [--expect N] [--json] [--strict] [--clickhouse ADDR] [--database DB]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "c981 verify: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "c981 verify: --run: %v\n", err)
		return errUsage
	}
	if opts.First == 0 {
		fmt.Fprintln(stderr, "c981 verify: --first must be at least 1")
		return errUsage
	}
	c := common{config: config, clickhouse: addr}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	cfg.ResolveClickHouse()
	cc := cfg.ClickHouse
	if db != "" {
		cc.Database = db
	}
	if len(cc.Addrs) == 0 {
		return errors.New("no ClickHouse address: use --clickhouse HOST:PORT or CLICKHOUSE_ADDR")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()

	rep, err := verify.Verify(ctx, conn, opts)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else {
		fmt.Fprint(stdout, rep.Text())
	}
	if strict && !rep.OK() {
		return fmt.Errorf("run %s: %d missing, %d duplicated, %d duplicate rows: %w", rep.Run, rep.Missing, rep.Duplicated, rep.DuplicateRows, errNotClean)
	}
	return nil
}
