package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/c981/c981/services/respond/fixture"
	"github.com/c981/c981/services/respond/guidance"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/respond/respond"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

func init() {
	register("plan", "--site FILE|DIR INCIDENT.json: response plans and operator guidance for one incident", planCmd)
}

// planOutput is the JSON output of `c981 plan`.
type planOutput struct {
	Incident event.Incident    `json:"incident"`
	Plans    []event.Plan      `json:"plans"`
	Guidance guidance.Guidance `json:"guidance"`
}

func planCmd(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", stderr)
	var sites stringList
	fs.Var(&sites, "site", "site model YAML file or directory of them (repeatable, required)")
	playbooksDir := fs.String("playbooks", "playbooks", "playbooks directory")
	format := fs.String("format", "json", "json or markdown")
	nowFlag := fs.String("now", "", "created_at of the plans (RFC 3339); default now")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: c981 plan --site FILE|DIR [--playbooks DIR] [--format json|markdown] INCIDENT.json|-\n\nPlans one incident (an event.Incident as JSON) with the playbooks and the constraint engine,\nusing the site models for names and asset response constraints, and prints the plans and the\noperator guidance as JSON, or the guidance as Markdown.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(sites) == 0 || fs.NArg() != 1 || (*format != "json" && *format != "markdown") {
		fs.Usage()
		return errUsage
	}
	now, err := refTime(*nowFlag)
	if err != nil {
		return err
	}
	models, err := loadSites(sites)
	if err != nil {
		return err
	}
	inc, err := readIncidentArg(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	set, err := playbook.LoadDir(*playbooksDir)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	plans, err := respond.NewPlanner(set, quiet).WithSites(models...).PlanErr(inc, now)
	if err != nil {
		fmt.Fprintf(stderr, "c981 plan: some playbooks could not be evaluated: %v\n", err)
	}
	if plans == nil {
		plans = []event.Plan{}
	}
	g := guidance.Build(inc, plans, guidance.NamesOf(models...))
	if *format == "markdown" {
		_, err := io.WriteString(stdout, guidance.Markdown(g))
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(planOutput{Incident: inc, Plans: plans, Guidance: g})
}

// loadSites loads site model files, and every *.yaml of directories.
func loadSites(paths []string) ([]*site.Model, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--site: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("--site %s: no *.yaml site models", p)
		}
		slices.Sort(m)
		files = append(files, m...)
	}
	var models []*site.Model
	for _, f := range files {
		m, err := site.Load(f)
		if err != nil {
			return nil, err
		}
		models = append(models, m)
	}
	return models, nil
}

// readIncidentArg reads one incident from a file or, for "-", stdin.
func readIncidentArg(path string, stdin io.Reader) (event.Incident, error) {
	if path != "-" {
		return fixture.ReadIncident(path)
	}
	var inc event.Incident
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inc); err != nil {
		return inc, fmt.Errorf("decode incident from stdin: %w", err)
	}
	return inc, nil
}
