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
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/shared/event"
)

// Rule kinds.
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
// unknown.
type UnsupportedKindError struct {
	Kind string
}

// Error implements error.
func (e *UnsupportedKindError) Error() string {
	return fmt.Sprintf("kind %s is not supported (match, threshold, distinct, sequence or absence)", e.Kind)
}

// knownKind reports whether k names a rule kind of this version.
func knownKind(k string) bool {
	switch k {
	case KindMatch, KindThreshold, KindDistinct, KindSequence, KindAbsence:
		return true
	}
	return false
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
	// Kind is the rule kind (KindMatch, KindThreshold, ...).
	Kind string
	// Condition is the source of the boolean condition expression (empty
	// for sequences, whose steps have their own).
	Condition string
	// GroupBy are the sources of the key expressions of stateful rules:
	// state is kept per site and per value of these expressions.
	GroupBy []string
	// Window is the event-time span of threshold and distinct rules.
	Window time.Duration
	// Threshold is the number of events (threshold) or distinct values
	// (distinct) that raise an alert.
	Threshold int
	// Distinct is the source of the expression whose distinct values a
	// distinct rule counts.
	Distinct string
	// Within is the maximum event-time span of a sequence.
	Within time.Duration
	// Steps are the ordered steps of a sequence.
	Steps []*Step
	// Interval is how long an absence rule waits (event time) for the
	// expected event before raising an alert.
	Interval time.Duration
	// Suppress is the per-key dedup window after an alert: further alerts
	// of the rule for the same key are suppressed until it has passed (0:
	// none for match rules; stateful rules default to their span).
	Suppress time.Duration
	// MaxKeys bounds the live keys of a stateful rule per engine (0: the
	// engine's default).
	MaxKeys int
	// IncidentKey is the source of the incident key expression ("" = default).
	IncidentKey string
	// Summary is the source of the summary expression ("" = default).
	Summary string
	// Fields are the event fields copied into the alert's Fields.
	Fields []string
	// File and Line locate the rule's definition.
	File string
	Line int

	cond      *vm.Program
	ncond     func(*event.Event) bool           // native form of cond (nil: interpreted)
	nkey      func(uint64, *event.Event) uint64 // native form of groupBy (nil: interpreted)
	ndistinct func(uint64, *event.Event) uint64 // native form of distinct
	key       *vm.Program
	nkeyText  func(*event.Event) string // native form of key (nil: interpreted)
	nsummary  func(*event.Event) string // native form of summary (nil: interpreted)
	summary   *vm.Program
	groupBy   []*vm.Program
	distinct  *vm.Program
	fp        string
	getters   []fieldGetter
	// condFields, keyFields and describeFields say whether the condition,
	// the keys (group_by, distinct) and the alert description (incident
	// key, summary, alert fields) read the event's Fields (fielduse.go).
	condFields     bool
	keyFields      bool
	describeFields bool
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
	ID          string        `yaml:"id"`
	Title       string        `yaml:"title"`
	Description string        `yaml:"description"`
	Severity    string        `yaml:"severity"`
	Attack      []string      `yaml:"attack"`
	Tags        []string      `yaml:"tags"`
	Enabled     *bool         `yaml:"enabled"`
	Kind        string        `yaml:"kind"`
	Condition   string        `yaml:"condition"`
	GroupBy     []string      `yaml:"group_by"`
	Window      time.Duration `yaml:"window"`
	Threshold   int           `yaml:"threshold"`
	Distinct    string        `yaml:"distinct"`
	Within      time.Duration `yaml:"within"`
	Steps       []stepDoc     `yaml:"steps"`
	Interval    time.Duration `yaml:"interval"`
	Suppress    time.Duration `yaml:"suppress"`
	MaxKeys     int           `yaml:"max_keys"`
	IncidentKey string        `yaml:"incident_key"`
	Fields      []string      `yaml:"fields"`
	Summary     string        `yaml:"summary"`
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
		if r.Kind != "" && !knownKind(r.Kind) {
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
	lines := newLineFinder(data)
	for i, d := range f.Rules {
		r, err := compile(name, lines, i, d)
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
func compile(name string, lines *lineFinder, i int, d ruleDoc) (*Rule, error) {
	line := func(attr string) int {
		if attr != "" {
			if l := lines.line(fmt.Sprintf("$.rules[%d].%s", i, attr)); l > 0 {
				return l
			}
		}
		return lines.line(fmt.Sprintf("$.rules[%d]", i))
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
	kind := d.Kind
	if kind == "" {
		kind = KindMatch
	}
	if kind != KindSequence && strings.TrimSpace(d.Condition) == "" {
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
		Kind:        kind,
		Condition:   d.Condition,
		GroupBy:     slices.Clone(d.GroupBy),
		Window:      d.Window,
		Threshold:   d.Threshold,
		Distinct:    d.Distinct,
		Within:      d.Within,
		Interval:    d.Interval,
		Suppress:    d.Suppress,
		MaxKeys:     d.MaxKeys,
		IncidentKey: d.IncidentKey,
		Summary:     d.Summary,
		Fields:      slices.Clone(d.Fields),
		File:        name,
		Line:        line(""),
	}
	if err := compileKind(r, d, fail); err != nil {
		return nil, err
	}
	r.fp = fingerprint(r)
	var err error
	if strings.TrimSpace(d.IncidentKey) != "" {
		if r.key, err = compileExpr(d.IncidentKey, expr.AsKind(reflect.String)); err != nil {
			return nil, fail("incident_key", err)
		}
		r.nkeyText = nativeString(d.IncidentKey)
	}
	if strings.TrimSpace(d.Summary) != "" {
		if r.summary, err = compileExpr(d.Summary, expr.AsKind(reflect.String)); err != nil {
			return nil, fail("summary", err)
		}
		r.nsummary = nativeString(d.Summary)
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
	decideFields(r)
	return r, nil
}

// compileExpr compiles one expression against Env with the shared limits.
func compileExpr(src string, opts ...expr.Option) (*vm.Program, error) {
	if len(src) > MaxExprLen {
		return nil, fmt.Errorf("expression is %d bytes, more than the limit of %d", len(src), MaxExprLen)
	}
	base := append([]expr.Option{
		expr.Env(Env{}),
		expr.MaxNodes(MaxExprNodes),
		// now() would make rules depend on wall-clock time: replaying the
		// same events must raise the same alerts.
		expr.DisableBuiltin("now"),
	}, helperFuncs...)
	p, err := expr.Compile(src, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	if err := checkHelperCalls(src); err != nil {
		return nil, err
	}
	return p, nil
}

// helperFuncs are the zone helper functions (see Helpers).
var helperFuncs = helperOptions()

// Fingerprint identifies what a stateful rule's state means: its kind,
// conditions, keys and spans (not its title, severity or output fields).
// State checkpointed or kept across a reload is reused only by a rule with
// the same fingerprint.
func (r *Rule) Fingerprint() string { return r.fp }

func fingerprint(r *Rule) string {
	parts := []string{r.Kind, r.Condition, strings.Join(r.GroupBy, "\x1f"), r.Window.String(), strconv.Itoa(r.Threshold),
		r.Distinct, r.Within.String(), r.Interval.String(), r.Suppress.String(), r.IncidentKey}
	for _, st := range r.Steps {
		parts = append(parts, st.Condition, strings.Join(st.By, "\x1f"), strconv.Itoa(st.Count))
	}
	return event.NewID(append([]string{"rule-state"}, parts...)...)
}

// lineFinder locates YAML paths in one parsed file (config.Line re-parses
// the file per lookup, which is quadratic for packs of many rules).
type lineFinder struct {
	file *ast.File
}

func newLineFinder(data []byte) *lineFinder {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return &lineFinder{}
	}
	return &lineFinder{file: f}
}

// line returns the 1-based line of the node at path, 0 when unknown.
func (l *lineFinder) line(path string) int {
	if l.file == nil {
		return 0
	}
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(l.file)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}
