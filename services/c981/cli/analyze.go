package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/enrich/zone"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// analyzeRecord is one output line of `c981 analyze`.
type analyzeRecord struct {
	Type     string          `json:"type"` // alert, incident, plan
	Alert    *event.Alert    `json:"alert,omitempty"`
	Incident *event.Incident `json:"incident,omitempty"`
	Plan     *event.Plan     `json:"plan,omitempty"`
}

func analyzeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("analyze", stderr)
	var sites stringList
	fs.Var(&sites, "site", "site model YAML file (repeatable, required)")
	rulesDir := fs.String("rules", "rules", "rules directory")
	playbooksDir := fs.String("playbooks", "playbooks", "playbooks directory")
	format := fs.String("format", "auto", "auto, rfc5424 or rfc3164")
	siteID := fs.String("site-id", "", "site id of the records (default: the only site model's id)")
	nowFlag := fs.String("now", "", "reference time (RFC 3339) for receipt, RFC 3164 years and created_at stamps; default now")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: c981 analyze --site FILE --rules DIR --playbooks DIR [FILE...]\n\nRuns parse -> enrich -> correlate -> respond in-process (no NATS, no ClickHouse) and prints alerts, incidents and plans as JSON lines.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(sites) == 0 {
		fs.Usage()
		return errUsage
	}
	now, err := refTime(*nowFlag)
	if err != nil {
		return err
	}
	var models []*site.Model
	for _, f := range sites {
		m, err := site.Load(f)
		if err != nil {
			return err
		}
		models = append(models, m)
	}
	if *siteID == "" {
		if len(models) != 1 {
			return fmt.Errorf("--site-id is required with %d site models", len(models))
		}
		*siteID = models[0].Site.ID
	}
	zones, err := zone.NewSet(models...)
	if err != nil {
		return err
	}
	rules, err := rule.LoadDir(*rulesDir)
	if err != nil {
		return err
	}
	books, err := playbook.LoadDir(*playbooksDir)
	if err != nil {
		return err
	}
	parser, err := offlineParser(*format, *siteID, now)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := func() time.Time { return now }
	engine := correlate.NewEngine(rules, correlate.NewMemoryStore(), correlate.EngineOptions{Now: clock, Logger: quiet})
	planner := respond.NewPlanner(books, quiet).WithSites(models...)

	pairs := zone.NewPairs(zone.DefaultPairCapacity)
	var evs []event.Event
	var bad int
	err = lineSource{files: fs.Args(), stdin: stdin}.each(func(name string, n int, line []byte) error {
		ev, perr := parseLine(parser, name, n, line, now)
		if perr != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: %v\n", name, n, perr)
			return nil
		}
		// As the enrich stage does: site context, then new_pair from the
		// pair memory of the events' site.
		if zones.Enrich(&ev) {
			pairs.Mark(&ev)
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return err
	}
	alerts, incidents, err := engine.Process(context.Background(), evs)
	if err != nil {
		return fmt.Errorf("correlate: %w", err)
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for i := range alerts {
		if err := enc.Encode(analyzeRecord{Type: "alert", Alert: &alerts[i]}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	var plans int
	for i := range incidents {
		if err := enc.Encode(analyzeRecord{Type: "incident", Incident: &incidents[i]}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	for _, inc := range latestVersions(incidents) {
		for _, p := range planner.Plan(inc, now) {
			plans++
			if err := enc.Encode(analyzeRecord{Type: "plan", Plan: &p}); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	fmt.Fprintf(stderr, "analyzed %d lines: %d events, %d errors, %d alerts, %d incident versions (%d incidents), %d plans\n",
		len(evs)+bad, len(evs), bad, len(alerts), len(incidents), len(latestVersions(incidents)), plans)
	return nil
}

// latestVersions keeps the highest version of each incident, in first-seen order.
func latestVersions(incs []event.Incident) []event.Incident {
	idx := map[string]int{}
	var out []event.Incident
	for _, inc := range incs {
		if i, ok := idx[inc.ID]; ok {
			if inc.Version > out[i].Version {
				out[i] = inc
			}
			continue
		}
		idx[inc.ID] = len(out)
		out = append(out, inc)
	}
	return out
}
