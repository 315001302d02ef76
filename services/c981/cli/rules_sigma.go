package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/correlate/sigma"
)

// rulesImportSigma converts Sigma rule files into one rules/*.yaml
// document (stdout or --out). A file that cannot be converted is reported
// on stderr as "file: reason" and makes the command fail; the others are
// still written. The result is loaded with the rule loader before it is
// written, so it always passes `c981 rules check`.
func rulesImportSigma(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rules import-sigma", stderr)
	prefix := fs.String("prefix", "SIGMA-", "prefix of the generated rule ids (followed by the Sigma id)")
	out := fs.String("out", "", "write the rules to this file instead of stdout")
	fs.Usage = func() { fmt.Fprint(stderr, rulesUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	var rules []*sigma.Rule
	failed := 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			failed++
			continue
		}
		r, err := sigma.Convert(path, data, sigma.Options{Prefix: *prefix})
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			failed++
			continue
		}
		rules = append(rules, r)
	}
	if len(rules) > 0 {
		doc, err := sigma.Marshal(rules)
		if err != nil {
			return err
		}
		name := *out
		if name == "" {
			name = "imported.yaml"
		}
		if _, err := rule.Parse(name, doc); err != nil {
			return fmt.Errorf("converted rules do not load (please report): %w", err)
		}
		if *out != "" {
			if err := os.WriteFile(*out, doc, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", *out, err)
			}
		} else if _, err := stdout.Write(doc); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%d Sigma rules converted, %d failed\n", len(rules), failed)
	if failed > 0 {
		return errors.New("some Sigma rules could not be converted")
	}
	return nil
}
