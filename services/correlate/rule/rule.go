package rule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/goccy/go-yaml"

	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/shared/event"
)

// Rule kinds. Only KindMatch is implemented; the others are recognised so
// that loading them fails with a clear "not supported yet" error.
const (
	KindMatch     = "match"
	KindThreshold = "threshold"
	KindDistinct  = "distinct"
	KindSequence  = "sequence"
	KindAbsence   = "absence"
)

// Limits applied to every expression.
const (
	// MaxExprLen is the maximum length of one expression's source in bytes.
	MaxExprLen = 4096
	// MaxExprNodes is the maximum number of AST nodes of one expression.
	MaxExprNodes = 2000
)

// UnsupportedKindError is wrapped by the load error of a rule whose kind is
// not implemented yet (or unknown).
type UnsupportedKindError struct {
	Kind string
}

// Error implements error.
func (e *UnsupportedKindError) Error() string {
	return fmt.Sprintf("kind %s is not supported yet (only %s)", e.Kind, KindMatch)
}

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	attackPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
)

// Rule is one compiled correlation rule.
type Rule struct {
	// ID is unique across all loaded files (OT-001).
	ID string
	// Title is the one-line name used for alerts and incidents.
	Title string
	// Description explains what the rule detects and why.
	Description string
	// Severity is info, low, medium, high or critical.
	Severity string
	// Attack lists MITRE ATT&CK for ICS technique ids (T0843).
	Attack []string
	// Tags are free-form labels.
	Tags []string
	// Enabled rules are evaluated; disabled ones are only validated.
	Enabled bool
	// Kind is the rule kind; always KindMatch in this version.
	Kind string
	// Condition is the source of the boolean condition expression.
	Condition string
	// IncidentKey is the source of the incident key expression ("" = default).
	IncidentKey string
	// Summary is the source of the summary expression ("" = default).
	Summary string
	// Fields are the event fields copied into the alert's Fields.
	Fields []string
	// File and Line locate the rule's definition.
	File string
	Line int

	cond    *vm.Program
	key     *vm.Program
	summary *vm.Program
	getters []fieldGetter
}

// LoadError is a rule file error located at file:line.
type LoadError struct {
	File string
	Line int
	// RuleID is the rule concerned, "" for file-level errors.
	RuleID string
	// Part names the rule attribute in error (condition, severity, ...), if any.
	Part string
	Err  error
}

// Error implements error as "file:line: rule ID: part: message".
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.RuleID != "" {
		b.WriteString(": rule ")
		b.WriteString(e.RuleID)
	}
	if e.Part != "" {
		b.WriteString(": ")
		b.WriteString(e.Part)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// file is the YAML layout of a rule file.
type file struct {
	Rules []ruleDoc `yaml:"rules"`
}

type ruleDoc struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Severity    string   `yaml:"severity"`
	Attack      []string `yaml:"attack"`
	Tags        []string `yaml:"tags"`
	Enabled     *bool    `yaml:"enabled"`
	Kind        string   `yaml:"kind"`
	Condition   string   `yaml:"condition"`
	IncidentKey string   `yaml:"incident_key"`
	Fields      []string `yaml:"fields"`
	Summary     string   `yaml:"summary"`
}

// kindsOnly is decoded leniently first, so that a rule of a future kind
// (with attributes this version does not know) is reported as an
// unsupported kind rather than as unknown fields.
type kindsOnly struct {
	Rules []struct {
		ID   string `yaml:"id"`
		Kind string `yaml:"kind"`
	} `yaml:"rules"`
}

// LoadDir loads every *.yaml file of dir (in name order) into a Set. Rule
// ids must be unique across files. A directory without rule files is an
// error.
func LoadDir(dir string) (*Set, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("load rules %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("load rules %s: no *.yaml rule files", dir)
	}
	sort.Strings(paths)
	return LoadFiles(paths...)
}

// LoadFiles loads the given rule files into a Set.
func LoadFiles(paths ...string) (*Set, error) {
	var all []*Rule
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("load rules %s: %w", p, err))
			continue
		}
		rules, err := Parse(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, rules...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return NewSet(all...)
}

// Parse decodes and compiles the rules of one file; name is used in errors.
// Every invalid rule is reported (errors joined), each as a *LoadError.
func Parse(name string, data []byte) ([]*Rule, error) {
	var kinds kindsOnly
	if err := yaml.Unmarshal(data, &kinds); err != nil {
		return nil, config.DecodeYAML(name, data, &file{})
	}
	var errs []error
	for i, r := range kinds.Rules {
		if r.Kind != "" && r.Kind != KindMatch {
			errs = append(errs, &LoadError{
				File: name, Line: config.Line(data, fmt.Sprintf("$.rules[%d].kind", i)), RuleID: r.ID,
				Err: &UnsupportedKindError{Kind: r.Kind},
			})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var f file
	if err := config.DecodeYAML(name, data, &f); err != nil {
		return nil, err
	}
	if len(f.Rules) == 0 {
		return nil, &LoadError{File: name, Line: 1, Err: errors.New("no rules (expected a top-level rules: list)")}
	}
	rules := make([]*Rule, 0, len(f.Rules))
	for i, d := range f.Rules {
		r, err := compile(name, data, i, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// compile validates rule i of a file and compiles its expressions.
func compile(name string, data []byte, i int, d ruleDoc) (*Rule, error) {
	line := func(attr string) int {
		if attr != "" {
			if l := config.Line(data, fmt.Sprintf("$.rules[%d].%s", i, attr)); l > 0 {
				return l
			}
		}
		return config.Line(data, fmt.Sprintf("$.rules[%d]", i))
	}
	fail := func(attr string, err error) error {
		return &LoadError{File: name, Line: line(attr), RuleID: d.ID, Part: attr, Err: err}
	}
	if !idPattern.MatchString(d.ID) {
		return nil, fail("id", fmt.Errorf("invalid id %q (letters, digits, '.', '_', '-')", d.ID))
	}
	if strings.TrimSpace(d.Title) == "" {
		return nil, fail("title", errors.New("title is required"))
	}
	if event.SeverityRank(d.Severity) < 0 {
		return nil, fail("severity", fmt.Errorf("invalid severity %q (info, low, medium, high, critical)", d.Severity))
	}
	for _, t := range d.Attack {
		if !attackPattern.MatchString(t) {
			return nil, fail("attack", fmt.Errorf("invalid ATT&CK technique id %q (T0843 or T0843.001)", t))
		}
	}
	if strings.TrimSpace(d.Condition) == "" {
		return nil, fail("condition", errors.New("condition is required"))
	}
	r := &Rule{
		ID:          d.ID,
		Title:       strings.TrimSpace(d.Title),
		Description: strings.TrimSpace(d.Description),
		Severity:    d.Severity,
		Attack:      slices.Clone(d.Attack),
		Tags:        slices.Clone(d.Tags),
		Enabled:     d.Enabled == nil || *d.Enabled,
		Kind:        KindMatch,
		Condition:   d.Condition,
		IncidentKey: d.IncidentKey,
		Summary:     d.Summary,
		Fields:      slices.Clone(d.Fields),
		File:        name,
		Line:        line(""),
	}
	var err error
	if r.cond, err = compileExpr(d.Condition, expr.AsBool()); err != nil {
		return nil, fail("condition", err)
	}
	if strings.TrimSpace(d.IncidentKey) != "" {
		if r.key, err = compileExpr(d.IncidentKey, expr.AsKind(reflect.String)); err != nil {
			return nil, fail("incident_key", err)
		}
	}
	if strings.TrimSpace(d.Summary) != "" {
		if r.summary, err = compileExpr(d.Summary, expr.AsKind(reflect.String)); err != nil {
			return nil, fail("summary", err)
		}
	}
	seen := map[string]bool{}
	for _, fname := range d.Fields {
		if seen[fname] {
			return nil, fail("fields", fmt.Errorf("field %q listed twice", fname))
		}
		seen[fname] = true
		g, err := newFieldGetter(fname)
		if err != nil {
			return nil, fail("fields", err)
		}
		r.getters = append(r.getters, g)
	}
	return r, nil
}

// compileExpr compiles one expression against Env with the shared limits.
func compileExpr(src string, result expr.Option) (*vm.Program, error) {
	if len(src) > MaxExprLen {
		return nil, fmt.Errorf("expression is %d bytes, more than the limit of %d", len(src), MaxExprLen)
	}
	return expr.Compile(src,
		expr.Env(Env{}),
		result,
		expr.MaxNodes(MaxExprNodes),
		// now() would make rules depend on wall-clock time: replaying the
		// same events must raise the same alerts.
		expr.DisableBuiltin("now"),
	)
}
