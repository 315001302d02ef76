package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/c981/c981/services/correlate/correlate"
	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

func init() {
	register("rules", "check|test|explain RULE EVENT.json|import-sigma FILE...: validate the rules, run their fixtures (diff on failure), explain a match, import Sigma rules", rulesCmd)
}

const rulesUsage = `usage:
  c981 rules check   [--rules DIR]                   load and type-check every rule; note rules evaluated by the interpreter
  c981 rules test    [--rules DIR] [--update] [ID...] run the fixtures (testdata/<ID>/events.jsonl -> expected.json)
  c981 rules explain [--rules DIR] RULE EVENT.json   why an enriched event does or does not satisfy a rule
  c981 rules import-sigma [--prefix SIGMA-] [--out FILE] SIGMA.yml...
                                                     convert single-event Sigma rules into a rules/*.yaml file
`

func rulesCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rulesUsage)
		return errUsage
	}
	switch args[0] {
	case "check":
		return rulesCheck(args[1:], stdout, stderr)
	case "test":
		return rulesTest(ctx, args[1:], stdout, stderr)
	case "explain":
		return rulesExplain(args[1:], stdin, stdout, stderr)
	case "import-sigma":
		return rulesImportSigma(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, rulesUsage)
		return nil
	}
	fmt.Fprintf(stderr, "c981 rules: unknown subcommand %q\n%s", args[0], rulesUsage)
	return errUsage
}

// rulesFlagSet is the flag set of a rules subcommand with its --rules flag.
type rulesFlagSet struct {
	*flag.FlagSet
	dir string
}

func rulesFlags(name string, stderr io.Writer) *rulesFlagSet {
	fs := newFlagSet("rules "+name, stderr)
	f := &rulesFlagSet{FlagSet: fs}
	fs.StringVar(&f.dir, "rules", "rules", "rules directory")
	fs.Usage = func() { fmt.Fprint(stderr, rulesUsage); fs.PrintDefaults() }
	return f
}

func rulesCheck(args []string, stdout, stderr io.Writer) error {
	f := rulesFlags("check", stderr)
	if err := parseFlags(f.FlagSet, args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		f.Usage()
		return errUsage
	}
	set, err := rule.LoadDir(f.dir)
	if err != nil {
		return err
	}
	kinds := map[string]int{}
	disabled := 0
	for _, r := range set.Rules() {
		kinds[r.Kind]++
		if !r.Enabled {
			disabled++
		}
	}
	var parts []string
	for _, k := range []string{rule.KindMatch, rule.KindThreshold, rule.KindDistinct, rule.KindSequence, rule.KindAbsence} {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	fmt.Fprintf(stdout, "%s: %d rules OK (%s; %d disabled)\n", f.dir, len(set.Rules()), strings.Join(parts, ", "), disabled)
	for _, r := range set.Rules() {
		if slow := r.Interpreted(); len(slow) > 0 {
			fmt.Fprintf(stdout, "note: %s:%d: rule %s: %s run in expr's interpreter (outside the compiled subset, about 10x the cost per event)\n",
				r.File, r.Line, r.ID, strings.Join(slow, ", "))
		}
	}
	return nil
}

func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := rulesFlags("test", stderr)
	update := f.Bool("update", false, "rewrite expected.json with the alerts raised")
	if err := parseFlags(f.FlagSet, args); err != nil {
		return err
	}
	set, err := rule.LoadDir(f.dir)
	if err != nil {
		return err
	}
	dirs, err := correlate.FixtureDirs(f.dir)
	if err != nil {
		return err
	}
	ids := f.Args()
	if len(ids) == 0 {
		for id := range dirs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	}
	failed := 0
	for _, id := range ids {
		dir, ok := dirs[id]
		if !ok {
			fmt.Fprintf(stdout, "FAIL %s: no fixture directory %s/testdata/%s\n", id, f.dir, id)
			failed++
			continue
		}
		res, err := correlate.RunFixture(ctx, set, id, dir)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", id, err)
			failed++
			continue
		}
		if *update {
			if err := correlate.WriteExpected(dir, res.Got); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "updated %s (%d alerts)\n", id, len(res.Got))
			continue
		}
		if res.OK() {
			fmt.Fprintf(stdout, "ok   %s (%d alerts)\n", id, len(res.Got))
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n", id)
		for _, p := range res.Problems {
			fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(strings.TrimRight(p, "\n"), "\n", "\n    "))
		}
	}
	var missing []string
	for _, r := range set.Enabled() {
		if _, ok := dirs[r.ID]; !ok {
			missing = append(missing, r.ID)
		}
	}
	if len(missing) > 0 && len(f.Args()) == 0 {
		fmt.Fprintf(stdout, "FAIL rules without a fixture: %s\n", strings.Join(missing, ", "))
		failed++
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d fixtures failed", failed, len(ids))
	}
	fmt.Fprintf(stdout, "%d fixtures passed\n", len(ids))
	return nil
}

func rulesExplain(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f := rulesFlags("explain", stderr)
	if err := parseFlags(f.FlagSet, args); err != nil {
		return err
	}
	if f.NArg() != 2 {
		f.Usage()
		return errUsage
	}
	set, err := rule.LoadDir(f.dir)
	if err != nil {
		return err
	}
	r, ok := set.Rule(f.Arg(0))
	if !ok {
		return fmt.Errorf("no rule %s in %s", f.Arg(0), f.dir)
	}
	var data []byte
	if f.Arg(1) == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(f.Arg(1))
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ev event.Event
	if err := dec.Decode(&ev); err != nil {
		return fmt.Errorf("%s: %w", f.Arg(1), err)
	}
	exps, err := r.Explain(&ev)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rule %s (%s, %s:%d): %s\n", r.ID, r.Kind, r.File, r.Line, r.Title)
	all := true
	for _, x := range exps {
		verdict := "holds"
		if !x.Matched {
			verdict = "FAILS"
			all = false
		}
		fmt.Fprintf(stdout, "%s %s\n", x.Part, verdict)
		printClause(stdout, x.Clause, "  ")
	}
	switch {
	case r.Kind == rule.KindMatch && all:
		fmt.Fprintln(stdout, "=> the event matches: one alert")
	case r.Kind == rule.KindMatch:
		fmt.Fprintln(stdout, "=> the event does not match")
	case r.Kind == rule.KindSequence:
		var holds []string
		for _, x := range exps {
			if x.Matched {
				holds = append(holds, x.Part)
			}
		}
		if len(holds) == 0 {
			fmt.Fprintln(stdout, "=> the event satisfies no step of the sequence")
		} else {
			fmt.Fprintf(stdout, "=> the event can advance the sequence at %s (within %s of the first step)\n", strings.Join(holds, ", "), r.Within)
		}
	case all:
		fmt.Fprintf(stdout, "=> the event counts for the %s rule; it alerts when its window condition is met\n", r.Kind)
	default:
		fmt.Fprintf(stdout, "=> the event does not count for the %s rule\n", r.Kind)
	}
	return nil
}

// printClause prints a clause tree, marking the failing leaves.
func printClause(w io.Writer, c rule.Clause, indent string) {
	val := fmt.Sprint(c.Value)
	if c.Err != "" {
		val = "error: " + c.Err
	}
	mark := " "
	if b, ok := c.Value.(bool); (ok && !b) || c.Err != "" {
		mark = "✗"
	} else if ok {
		mark = "✓"
	}
	if c.Op != "" {
		fmt.Fprintf(w, "%s%s %s -> %s\n", indent, mark, strings.ToUpper(c.Op), val)
		for _, o := range c.Operands {
			printClause(w, o, indent+"    ")
		}
		return
	}
	fmt.Fprintf(w, "%s%s %s -> %s\n", indent, mark, c.Expr, val)
}
