package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/c981/c981/services/store/chstore"
)

func init() {
	register("retention", "list (--dry-run) or drop (--apply) the ClickHouse day partitions past retention", retentionCmd)
}

// keepFlag is a repeatable --keep table=days flag.
type keepFlag chstore.Retention

func (k keepFlag) String() string { return fmt.Sprint(map[string]int(k)) }

func (k keepFlag) Set(v string) error {
	table, days, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(days)
	if !ok || err != nil {
		return fmt.Errorf("%q: want TABLE=DAYS", v)
	}
	k[table] = n
	return nil
}

// retentionCmd lists the expired day partitions of the configured
// retention (store.retention in the config, overridden by --keep) and, with
// --apply, drops them.
func retentionCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("retention", stderr)
	var (
		config, addr, db string
		dryRun, apply    bool
		at               string
		keep             = keepFlag{}
	)
	fs.StringVar(&config, "config", "", "YAML config file; its store.retention gives the days kept per table")
	fs.StringVar(&addr, "clickhouse", "", "ClickHouse native address host:port (default $CLICKHOUSE_ADDR)")
	fs.StringVar(&db, "database", "", "ClickHouse database (default: the config's, c981)")
	fs.Var(keep, "keep", "TABLE=DAYS: keep TABLE's rows DAYS days (0 = forever); repeatable, overrides the config")
	fs.BoolVar(&dryRun, "dry-run", false, "list the partitions that would be dropped (the default)")
	fs.BoolVar(&apply, "apply", false, "drop the expired partitions")
	fs.StringVar(&at, "now", "", "evaluate retention at this RFC 3339 time instead of now (for checks)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: c981 retention [--dry-run | --apply] [--config FILE] [--keep TABLE=DAYS]... [--clickhouse ADDR] [--database DB]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "c981 retention: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if dryRun && apply {
		fmt.Fprintln(stderr, "c981 retention: --dry-run and --apply are exclusive")
		return errUsage
	}
	now := time.Now()
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		now = t
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
	ret := chstore.Retention{}
	for t, d := range cfg.Store.Retention {
		ret[t] = d
	}
	for t, d := range keep {
		ret[t] = d
	}
	if err := ret.Validate(); err != nil {
		return err
	}
	if len(ret) == 0 {
		fmt.Fprintln(stdout, "no retention configured (store.retention or --keep): every table is kept forever")
		return nil
	}
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()

	parts, err := chstore.Expired(ctx, conn, ret, now)
	if err != nil {
		return err
	}
	verb := "would drop"
	if apply {
		verb = "dropped"
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tDAY\tROWS\tBYTES\tACTION")
	var rows uint64
	for _, p := range parts {
		if apply {
			if err := chstore.DropPartition(ctx, conn, p); err != nil {
				_ = tw.Flush()
				return err
			}
		}
		rows += p.Rows
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Table, p.Day.Format(time.DateOnly), p.Rows, p.Bytes, verb)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %d partitions, %d rows (retention %s at %s)\n", verb, len(parts), rows, retentionText(ret), now.UTC().Format(time.RFC3339))
	return nil
}

// retentionText renders r as "events=90d, alerts=forever" in table order.
func retentionText(r chstore.Retention) string {
	var parts []string
	for _, t := range chstore.Tables {
		d, ok := r[t]
		switch {
		case !ok:
		case d == 0:
			parts = append(parts, t+"=forever")
		default:
			parts = append(parts, fmt.Sprintf("%s=%dd", t, d))
		}
	}
	return strings.Join(parts, ", ")
}

var _ flag.Value = keepFlag{}
