package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/c981/c981/services/respond/fixture"
	"github.com/c981/c981/services/respond/playbook"
	"github.com/c981/c981/services/respond/respond"
)

func init() {
	register("playbooks", "check|test: validate the playbooks, run their fixtures (diff on failure)", playbooksCmd)
}

func playbooksCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "test") {
		fmt.Fprintln(stderr, "usage: c981 playbooks check [--playbooks DIR]\n       c981 playbooks test [--playbooks DIR] [--fixtures DIR] [--site FILE|DIR] [--update]")
		return errUsage
	}
	sub := args[0]
	fs := newFlagSet("playbooks "+sub, stderr)
	dir := fs.String("playbooks", "playbooks", "playbooks directory")
	var fixtures *string
	var update *bool
	var sites stringList
	if sub == "test" {
		fixtures = fs.String("fixtures", "", "fixtures directory (default <playbooks>/testdata)")
		update = fs.Bool("update", false, "rewrite expected.json from the current plans instead of comparing")
		fs.Var(&sites, "site", "site model YAML file or directory: apply its asset response constraints (repeatable)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	set, err := playbook.LoadDir(*dir)
	if err != nil {
		return err
	}
	if sub == "check" {
		for _, p := range set.Playbooks() {
			classes := map[string]int{}
			for i := range p.Steps {
				classes[p.Steps[i].Class()]++
			}
			fmt.Fprintf(stdout, "ok  %-10s %2d steps (passive %d, boundary %d, intrusive %d)  %s\n",
				p.ID, len(p.Steps), classes["passive"], classes["boundary"], classes["intrusive"], p.Title)
		}
		fmt.Fprintf(stdout, "%d playbooks valid\n", set.Len())
		return nil
	}
	root := *fixtures
	if root == "" {
		root = strings.TrimSuffix(*dir, "/") + "/testdata"
	}
	models, err := loadSites(sites)
	if err != nil {
		return err
	}
	var ids []string
	for _, p := range set.Playbooks() {
		ids = append(ids, p.ID)
	}
	res, err := fixture.Run(respond.NewPlanner(set, nil).WithSites(models...), ids, root, *update)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", r.Case, r.Err)
		case r.Diff != "":
			failed++
			fmt.Fprintf(stdout, "FAIL %s: plan differs from expected.json\n%s", r.Case, r.Diff)
		case *update:
			fmt.Fprintf(stdout, "updated %s\n", r.Case)
		default:
			fmt.Fprintf(stdout, "ok   %s\n", r.Case)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d fixtures failed", failed, len(res))
	}
	fmt.Fprintf(stdout, "%d fixtures passed\n", len(res))
	return nil
}
