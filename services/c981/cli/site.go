package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/c981/c981/services/enrich/zone"
	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

func init() {
	register("site", "check FILE|DIR... | import-csv --site FILE CSV...: validate site models, import assets", siteCmd)
}

const siteUsage = `usage:
  c981 site check FILE|DIR...
      Validate site models (a directory contributes its *.yaml and *.yml files)
      and print a summary per site: zones, conduits, assets, windows. Problems
      are printed as file:line: message; the exit status is 1 when any model
      is invalid.
  c981 site import-csv --site FILE [--out FILE] CSV...
      Merge the assets of CSV exports (header row; columns in docs/SITE-MODEL.md)
      into the site model, validate the result and print its complete assets:
      section as YAML (to --out, default stdout) to replace the file's section.
`

func siteCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, siteUsage)
		return errUsage
	}
	switch args[0] {
	case "check":
		return siteCheck(args[1:], stdout, stderr)
	case "import-csv":
		return siteImportCSV(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, siteUsage)
		return nil
	}
	fmt.Fprintf(stderr, "c981 site: unknown subcommand %q\n%s", args[0], siteUsage)
	return errUsage
}

func siteCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("site check", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, siteUsage)
		return errUsage
	}
	files, err := site.Files(fs.Args()...)
	if err != nil {
		return err
	}
	var models []*site.Model
	bad := 0
	bySite := map[string]string{}
	for _, f := range files {
		m, err := site.Load(f)
		if err != nil {
			bad++
			fmt.Fprintln(stderr, err)
			continue
		}
		if other, dup := bySite[m.Site.ID]; dup {
			bad++
			fmt.Fprintf(stderr, "%s: site %q is already described by %s\n", f, m.Site.ID, other)
			continue
		}
		bySite[m.Site.ID] = f
		models = append(models, m)
		fmt.Fprintf(stdout, "%s: %s\n", f, summary(m))
	}
	var t struct{ zones, conduits, flows, assets, windows int }
	for _, m := range models {
		t.zones += len(m.Zones)
		t.conduits += len(m.Conduits)
		t.assets += len(m.Assets)
		t.windows += len(m.MaintenanceWindows)
		for _, c := range m.Conduits {
			t.flows += len(c.Flows)
		}
	}
	fmt.Fprintf(stdout, "%d sites, %d zones, %d conduits (%d flows), %d assets, %d maintenance windows", len(models), t.zones, t.conduits, t.flows, t.assets, t.windows)
	if bad > 0 {
		fmt.Fprintf(stdout, "; %d of %d files invalid\n", bad, len(files))
		return fmt.Errorf("%d of %d site model files invalid", bad, len(files))
	}
	fmt.Fprintln(stdout)
	if _, err := zone.NewSet(models...); err != nil {
		return err
	}
	return nil
}

func summary(m *site.Model) string {
	flows, recurring, safety := 0, 0, 0
	for _, c := range m.Conduits {
		flows += len(c.Flows)
	}
	for _, w := range m.MaintenanceWindows {
		if w.Recurrence != nil {
			recurring++
		}
	}
	for _, z := range m.Zones {
		if z.Safety {
			safety++
		}
	}
	return fmt.Sprintf("site %s (%s) version %d: %d areas, %d zones (%d safety), %d conduits (%d flows), %d assets, %d maintenance windows (%d recurring)",
		m.Site.ID, m.Site.Timezone, m.Version, len(m.Site.Areas), len(m.Zones), safety, len(m.Conduits), flows, len(m.Assets), len(m.MaintenanceWindows), recurring)
}

func siteImportCSV(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("site import-csv", stderr)
	siteFile := fs.String("site", "", "site model file to merge the assets into (required)")
	outFile := fs.String("out", "", "write the assets: section here instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *siteFile == "" || fs.NArg() == 0 {
		fmt.Fprint(stderr, siteUsage)
		return errUsage
	}
	m, err := site.Load(*siteFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := site.ImportCSV(m, f, name)
		f.Close()
		if err != nil {
			errs = append(errs, err)
		}
		fmt.Fprintf(stderr, "%s: %d assets added, %d updated", name, res.Added, res.Updated)
		if len(res.Ignored) > 0 {
			fmt.Fprintf(stderr, "; ignored columns: %s", strings.Join(res.Ignored, ", "))
		}
		fmt.Fprintln(stderr)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("the merged model of %s is invalid (nothing written):\n%w", *siteFile, err)
	}
	out := site.AssetsYAML(m.Assets)
	if *outFile == "" {
		_, err := io.WriteString(stdout, out)
		return err
	}
	if err := os.WriteFile(*outFile, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *outFile, err)
	}
	return nil
}

// enrichOffline is `c981 enrich --site FILE|DIR` without NATS: normalized
// events as JSON lines (c981 parse output) from files or stdin, enriched
// JSON lines on stdout. An event without a site gets the only loaded site
// when exactly one model is loaded. Bad lines are reported on stderr as
// name:line: reason and skipped; a summary ends the run.
func enrichOffline(sites, files []string, stdin io.Reader, stdout, stderr io.Writer) error {
	models, err := site.LoadAll(sites...)
	if err != nil {
		return err
	}
	set, err := zone.NewSet(models...)
	if err != nil {
		return err
	}
	only := ""
	if len(models) == 1 {
		only = models[0].Site.ID
	}
	pairs := zone.NewPairs(zone.DefaultPairCapacity)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var n, bad, unknownSite, violations, newPairs int
	err = lineSource{files: files, stdin: stdin}.each(func(name string, lineNo int, line []byte) error {
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: not an event JSON object: %v\n", name, lineNo, err)
			return nil
		}
		if ev.Site == "" {
			ev.Site = only
		}
		if set.Enrich(&ev) {
			pairs.Mark(&ev)
		} else {
			unknownSite++
		}
		if ev.Flow.CrossZone && !ev.Flow.Allowed {
			violations++
		}
		if ev.Flow.NewPair {
			newPairs++
		}
		n++
		if err := enc.Encode(&ev); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	fmt.Fprintf(stderr, "enriched %d events with %d site models: %d conduit violations, %d new pairs, %d of an unknown site; %d bad lines\n", n, len(models), violations, newPairs, unknownSite, bad)
	return err
}
