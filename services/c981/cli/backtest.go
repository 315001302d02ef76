package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

func init() {
	register("backtest", "replay stored events through the rules and report the alerts they would raise", backtestCmd)
}

// backtestSummary is the per-rule line of `c981 backtest`.
type backtestSummary struct {
	rule, title, severity string
	alerts                int
	keys                  map[string]bool
	first, last           time.Time
}

// backtestCmd reads the events of [--from, --to) back from ClickHouse in
// event-time order, runs them through a correlation engine with the rules
// of --rules and an in-memory incident store, and prints the alerts the
// rules would have raised: a summary per rule, or every alert as a JSON
// line with --json. Nothing is written to ClickHouse or the bus.
func backtestCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("backtest", stderr)
	var (
		config, addr, db, siteID string
		from, to, rulesDir, now  string
		asJSON                   bool
		page                     int
	)
	fs.StringVar(&from, "from", "", "start of the replayed event time, RFC 3339 (required)")
	fs.StringVar(&to, "to", "", "end (exclusive) of the replayed event time, RFC 3339 (required)")
	fs.StringVar(&rulesDir, "rules", "rules", "rules directory")
	fs.StringVar(&siteID, "site", "", "replay only this site's events (default: every site)")
	fs.StringVar(&config, "config", "", "YAML config file (for the ClickHouse connection)")
	fs.StringVar(&addr, "clickhouse", "", "ClickHouse native address host:port (default $CLICKHOUSE_ADDR)")
	fs.StringVar(&db, "database", "", "ClickHouse database (default: the config's, c981)")
	fs.BoolVar(&asJSON, "json", false, "print every alert as a JSON line instead of the per-rule summary")
	fs.IntVar(&page, "page", chstore.DefaultReadPage, "events read and correlated per batch")
	fs.StringVar(&now, "now", "", "processing time stamped on the alerts (RFC 3339; default now)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: c981 backtest --from T1 --to T2 [--rules DIR] [--site ID] [--json] [--clickhouse ADDR] [--database DB]")
		fmt.Fprintln(stderr, "\nReplays the stored events of [T1, T2) through the rules (in-memory incidents; nothing is written)\nand reports the alerts they would have raised.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || from == "" || to == "" {
		fs.Usage()
		return errUsage
	}
	t1, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	t2, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if !t1.Before(t2) {
		return errors.New("--from must be before --to")
	}
	if page <= 0 {
		return fmt.Errorf("--page: %d must be positive", page)
	}
	clock := time.Now
	if now != "" {
		t, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		clock = func() time.Time { return t }
	}
	rules, err := rule.LoadDir(rulesDir)
	if err != nil {
		return err
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
	conn, err := chstore.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()

	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engine := correlate.NewEngine(rules, correlate.NewMemoryStore(), correlate.EngineOptions{Now: clock, Logger: quiet})
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	summary := map[string]*backtestSummary{}
	var alerts, skipped int
	n, err := chstore.ReadEvents(ctx, conn, chstore.EventRange{Site: siteID, From: t1, To: t2, PageSize: page}, func(evs []event.Event) error {
		valid := evs[:0]
		for i := range evs {
			if err := correlate.ValidateEvent(&evs[i]); err != nil {
				skipped++
				continue
			}
			valid = append(valid, evs[i])
		}
		as, _, err := engine.Process(ctx, valid)
		if err != nil {
			return fmt.Errorf("correlate: %w", err)
		}
		for i := range as {
			a := &as[i]
			alerts++
			if asJSON {
				if err := enc.Encode(analyzeRecord{Type: "alert", Alert: a}); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				continue
			}
			s := summary[a.RuleID]
			if s == nil {
				s = &backtestSummary{rule: a.RuleID, title: a.RuleTitle, severity: a.Severity, keys: map[string]bool{}, first: a.Time}
				summary[a.RuleID] = s
			}
			s.alerts++
			s.keys[a.IncidentKey] = true
			if a.Time.Before(s.first) {
				s.first = a.Time
			}
			if a.Time.After(s.last) {
				s.last = a.Time
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !asJSON {
		rows := make([]*backtestSummary, 0, len(summary))
		for _, s := range summary {
			rows = append(rows, s)
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].alerts != rows[j].alerts {
				return rows[i].alerts > rows[j].alerts
			}
			return rows[i].rule < rows[j].rule
		})
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tSEVERITY\tALERTS\tKEYS\tFIRST\tLAST\tTITLE")
		for _, s := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.rule, s.severity, s.alerts, len(s.keys),
				s.first.UTC().Format(time.RFC3339), s.last.UTC().Format(time.RFC3339), s.title)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "backtest %s .. %s: %d events replayed (%d invalid skipped), %d alerts from %d rules\n",
		t1.UTC().Format(time.RFC3339), t2.UTC().Format(time.RFC3339), n, skipped, alerts, len(rules.Rules()))
	return nil
}
