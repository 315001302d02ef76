package playbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/respond/constraint"
	"github.com/c981/c981/services/shared/config"
	"github.com/c981/c981/services/shared/event"
)

// Audiences a step may address.
const (
	AudienceOperator        = "operator"
	AudienceSOCAnalyst      = "soc_analyst"
	AudienceControlEngineer = "control_engineer"
	AudienceSafetyEngineer  = "safety_engineer"
	AudienceManagement      = "management"
)

var audiences = []string{AudienceOperator, AudienceSOCAnalyst, AudienceControlEngineer, AudienceSafetyEngineer, AudienceManagement}

// Audiences returns the audiences a step may address.
func Audiences() []string { return slices.Clone(audiences) }

// MaxExprNodes bounds the size of applies_to and preconditions expressions.
const MaxExprNodes = 1000

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Playbook is one response playbook.
type Playbook struct {
	// ID identifies the playbook (PB-OT-01); letters, digits, '.', '_', '-'.
	ID string `yaml:"id"`
	// Title is the one-line name shown to people.
	Title string `yaml:"title"`
	// Description explains when and why the playbook is used.
	Description string `yaml:"description"`
	// Priority orders the playbooks that apply to an incident: higher first.
	Priority int `yaml:"priority"`
	// AppliesTo is an expr-lang expression over event.Incident (its expr
	// tags: severity, rule_ids, target.role, maint_active, ...) that
	// returns true when the playbook applies.
	AppliesTo string `yaml:"applies_to"`
	// Steps are performed in order.
	Steps []Step `yaml:"steps"`

	// File and Line locate the playbook's definition (set by the loader).
	File string `yaml:"-"`
	Line int    `yaml:"-"`

	applies *vm.Program
}

// Step is one playbook step.
type Step struct {
	// ID identifies the step within its playbook.
	ID string `yaml:"id"`
	// Kind is guidance, notify, approval or action (constraint.Kind*).
	Kind string `yaml:"kind"`
	// Action is a catalog action name (notify and action steps only).
	Action string `yaml:"action"`
	// Audience is who the step is for: operator, soc_analyst,
	// control_engineer, safety_engineer or management. Required: every step,
	// even a refused one, is read by someone.
	Audience string `yaml:"audience"`
	// DeclaredClass is the action class the author expects (passive,
	// boundary, intrusive). Optional; when given it must match the built-in
	// catalog, so a reviewer sees the impact class in the playbook and a
	// playbook cannot believe an intrusive action is passive.
	DeclaredClass string `yaml:"class"`
	// Automatic is true when the step is meant to run without a person.
	Automatic bool `yaml:"automatic"`
	// Approvals the playbook asks for on top of the built-in rules.
	Approvals Approvals `yaml:"approvals"`
	// Preconditions is an optional expr-lang expression over the incident
	// that must hold for the step to run.
	Preconditions string `yaml:"preconditions"`
	// Timeout is how long to wait for approvals; after it nothing is done.
	Timeout time.Duration `yaml:"timeout"`
	// Text is what a person reads: required for guidance steps; other
	// steps fall back to the action's catalog description.
	Text string `yaml:"text"`

	action constraint.Action
	pre    *vm.Program
}

// Approvals are extra approvals a playbook requires for a step.
type Approvals struct {
	// Roles must each approve (constraint.Roles).
	Roles []string `yaml:"roles"`
	// Count is the minimum number of distinct approvers; 0 means len(Roles).
	Count int `yaml:"count"`
}

// Class returns the step's impact class from the action catalog; guidance
// and approval steps change nothing and are passive.
func (s *Step) Class() string {
	if s.action.Class != "" {
		return s.action.Class
	}
	return event.ClassPassive
}

// DisplayText returns the text a person reads: the step's text, or, when
// the step has none, the action's catalog description or, for an approval
// gate, who must approve.
func (s *Step) DisplayText() string {
	switch {
	case s.Text != "":
		return s.Text
	case s.Kind == constraint.KindApproval:
		return "Approval by " + strings.Join(s.Approvals.Roles, " + ") + " is needed before the plan continues; without it nothing further is done."
	}
	return s.action.Description
}

// Constraint returns the step as the constraint engine sees it, with the
// action's catalog entry; the caller fills Unmet.
func (s *Step) Constraint() constraint.Step {
	return constraint.Step{
		Kind:      s.Kind,
		Action:    s.action,
		Automatic: s.Automatic,
		Approvals: constraint.Approvals{Roles: s.Approvals.Roles, Count: s.Approvals.Count},
		Timeout:   s.Timeout,
	}
}

// PreconditionsHold evaluates the step's preconditions against inc; a step
// without preconditions holds.
func (s *Step) PreconditionsHold(inc *event.Incident) (bool, error) {
	if s.pre == nil {
		return true, nil
	}
	return run(s.pre, inc)
}

// Applies evaluates the playbook's applies_to expression against inc.
func (p *Playbook) Applies(inc *event.Incident) (bool, error) {
	ok, err := run(p.applies, inc)
	if err != nil {
		return false, fmt.Errorf("playbook %s applies_to: %w", p.ID, err)
	}
	return ok, nil
}

func run(prog *vm.Program, inc *event.Incident) (bool, error) {
	out, err := expr.Run(prog, inc)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression returned %T, not bool", out)
	}
	return b, nil
}

func compile(src string) (*vm.Program, error) {
	return expr.Compile(src, expr.Env(event.Incident{}), expr.AsBool(), expr.MaxNodes(MaxExprNodes))
}

// Set is a loaded, validated set of playbooks ordered by priority (highest
// first, then id). It is immutable and safe for concurrent use.
type Set struct {
	playbooks []*Playbook
}

// NewSet checks that playbook ids are unique and orders them.
func NewSet(pbs []*Playbook) (*Set, error) {
	seen := map[string]*Playbook{}
	var errs []error
	for _, p := range pbs {
		if prev, ok := seen[p.ID]; ok {
			errs = append(errs, fmt.Errorf("%s: playbook %s: duplicate id (first defined at %s)", where(p.File, p.Line), p.ID, where(prev.File, prev.Line)))
			continue
		}
		seen[p.ID] = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := slices.Clone(pbs)
	slices.SortStableFunc(out, func(a, b *Playbook) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return strings.Compare(a.ID, b.ID)
	})
	return &Set{playbooks: out}, nil
}

// LoadDir loads every *.yaml file in dir (in name order) into a Set. Any
// error stops loading; errors read "file:line: playbook ID: ...".
func LoadDir(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("load playbooks %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load playbooks %s: no *.yaml files", dir)
	}
	slices.Sort(files)
	var all []*Playbook
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("load playbooks: %w", err)
		}
		pbs, err := Parse(f, data)
		if err != nil {
			return nil, err
		}
		all = append(all, pbs...)
	}
	set, err := NewSet(all)
	if err != nil {
		return nil, fmt.Errorf("load playbooks %s: %w", dir, err)
	}
	return set, nil
}

// Parse decodes and validates one playbook file named name.
func Parse(name string, data []byte) ([]*Playbook, error) {
	var doc struct {
		Playbooks []*Playbook `yaml:"playbooks"`
	}
	// config.DecodeYAML also turns a YAML parser panic into an error (an
	// empty tag, "playbooks: ! ", found by FuzzParse; kept in
	// testdata/fuzz/FuzzParse).
	if err := config.DecodeYAML(name, data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Playbooks) == 0 {
		return nil, fmt.Errorf("%s: no playbooks (expected a top-level playbooks: list)", name)
	}
	var errs []error
	for i, p := range doc.Playbooks {
		if p == nil {
			errs = append(errs, fmt.Errorf("%s: playbooks[%d] is empty", where(name, config.Line(data, fmt.Sprintf("$.playbooks[%d]", i))), i))
			continue
		}
		p.File = name
		p.Line = config.Line(data, fmt.Sprintf("$.playbooks[%d].id", i))
		errs = append(errs, p.validate(name, data, i)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return doc.Playbooks, nil
}

func where(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// validate checks the playbook and compiles its expressions.
func (p *Playbook) validate(file string, data []byte, i int) []error {
	var errs []error
	path := fmt.Sprintf("$.playbooks[%d]", i)
	fail := func(field, format string, args ...any) {
		line := lineOf(data, path+field)
		id := p.ID
		if id == "" {
			id = fmt.Sprintf("#%d", i+1)
		}
		errs = append(errs, fmt.Errorf("%s: playbook %s: %s", where(file, line), id, fmt.Sprintf(format, args...)))
	}
	if !idPattern.MatchString(p.ID) {
		fail(".id", "id %q must be letters, digits, '.', '_' or '-'", p.ID)
	}
	if strings.TrimSpace(p.Title) == "" {
		fail(".title", "title is required")
	}
	if strings.TrimSpace(p.AppliesTo) == "" {
		fail(".applies_to", "applies_to is required (use \"true\" for every incident)")
	} else if prog, err := compile(p.AppliesTo); err != nil {
		fail(".applies_to", "applies_to: %v", err)
	} else {
		p.applies = prog
	}
	if len(p.Steps) == 0 {
		fail(".steps", "steps are required")
	}
	seen := map[string]bool{}
	for j := range p.Steps {
		s := &p.Steps[j]
		sp := fmt.Sprintf(".steps[%d]", j)
		sfail := func(field, format string, args ...any) {
			fail(sp+field, "step %s: %s", stepName(s, j), fmt.Sprintf(format, args...))
		}
		switch {
		case !idPattern.MatchString(s.ID):
			sfail(".id", "id %q must be letters, digits, '.', '_' or '-'", s.ID)
		case seen[s.ID]:
			sfail(".id", "duplicate step id")
		}
		seen[s.ID] = true
		if !slices.Contains(constraint.Kinds(), s.Kind) {
			sfail(".kind", "kind %q must be one of %s", s.Kind, strings.Join(constraint.Kinds(), ", "))
		}
		switch s.Kind {
		case constraint.KindNotify, constraint.KindAction:
			a, ok := constraint.Lookup(s.Action)
			switch {
			case s.Action == "":
				sfail(".kind", "%s steps need an action", s.Kind)
			case !ok:
				sfail(".action", "unknown action %q (not in the built-in action catalog)", s.Action)
			case s.Kind == constraint.KindNotify && a.Class != event.ClassPassive:
				sfail(".action", "notify steps take a passive action; %s is %s", a.Name, a.Class)
			default:
				s.action = a
			}
		case constraint.KindGuidance, constraint.KindApproval:
			if s.Action != "" {
				sfail(".action", "%s steps take no action", s.Kind)
			}
			if s.Automatic {
				sfail(".automatic", "%s steps are for people and cannot be automatic", s.Kind)
			}
		}
		if s.Kind == constraint.KindGuidance {
			if strings.TrimSpace(s.Text) == "" {
				sfail(".text", "guidance steps need text")
			}
			if s.Preconditions != "" || len(s.Approvals.Roles) > 0 || s.Approvals.Count > 0 {
				sfail("", "guidance steps take no preconditions or approvals")
			}
		}
		if s.Kind == constraint.KindApproval && len(s.Approvals.Roles) == 0 {
			sfail(".approvals", "approval steps need approvals.roles")
		}
		if s.Audience == "" {
			sfail(".audience", "audience is required (who reads or is notified by the step)")
		}
		if s.DeclaredClass != "" {
			switch want := s.Class(); {
			case !slices.Contains([]string{event.ClassPassive, event.ClassBoundary, event.ClassIntrusive}, s.DeclaredClass):
				sfail(".class", "class %q must be passive, boundary or intrusive", s.DeclaredClass)
			case s.DeclaredClass != want && (s.action.Class != "" || s.Kind == constraint.KindGuidance || s.Kind == constraint.KindApproval):
				sfail(".class", "class %s does not match the built-in catalog: %s", s.DeclaredClass, classOf(s))
			}
		}
		if s.Audience != "" && !slices.Contains(audiences, s.Audience) {
			sfail(".audience", "audience %q must be one of %s", s.Audience, strings.Join(audiences, ", "))
		}
		for k, r := range s.Approvals.Roles {
			if !constraint.KnownRole(r) {
				sfail(fmt.Sprintf(".approvals.roles[%d]", k), "approver role %q must be one of %s", r, strings.Join(constraint.Roles(), ", "))
			} else if slices.Index(s.Approvals.Roles, r) != k {
				sfail(fmt.Sprintf(".approvals.roles[%d]", k), "approver role %q listed twice", r)
			}
		}
		if s.Approvals.Count < 0 || (s.Approvals.Count > 0 && s.Approvals.Count < len(s.Approvals.Roles)) {
			sfail(".approvals.count", "approvals.count %d must be at least the number of roles (%d): each role approves with its own person", s.Approvals.Count, len(s.Approvals.Roles))
		}
		if s.Timeout < 0 {
			sfail(".timeout", "timeout must not be negative")
		}
		if s.Preconditions != "" {
			if prog, err := compile(s.Preconditions); err != nil {
				sfail(".preconditions", "preconditions: %v", err)
			} else {
				s.pre = prog
			}
		}
	}
	return errs
}

// lineOf returns the line of the YAML path, or of its closest ancestor
// that exists (a missing field is reported at its step or playbook).
func lineOf(data []byte, path string) int {
	for path != "$" && path != "" {
		if line := config.Line(data, path); line > 0 {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// classOf explains the catalog class of a step for errors.
func classOf(s *Step) string {
	if s.action.Class != "" {
		return fmt.Sprintf("%s is %s", s.action.Name, s.action.Class)
	}
	return fmt.Sprintf("%s steps are passive", s.Kind)
}

func stepName(s *Step, j int) string {
	if s.ID != "" {
		return s.ID
	}
	return fmt.Sprintf("#%d", j+1)
}

// Playbooks returns the playbooks in priority order.
func (s *Set) Playbooks() []*Playbook { return slices.Clone(s.playbooks) }

// Get returns the playbook with the id, or nil.
func (s *Set) Get(id string) *Playbook {
	for _, p := range s.playbooks {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Len returns the number of playbooks.
func (s *Set) Len() int { return len(s.playbooks) }

// Match returns every playbook whose applies_to holds for inc, in priority
// order, and the joined errors of those whose applies_to failed to
// evaluate (they are left out).
func (s *Set) Match(inc *event.Incident) ([]*Playbook, error) {
	var out []*Playbook
	var errs []error
	for _, p := range s.playbooks {
		ok, err := p.Applies(inc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// Select returns every playbook that applies to inc, in priority order.
// A playbook whose applies_to fails to evaluate is left out; Match reports
// why.
func (s *Set) Select(inc event.Incident) []*Playbook {
	out, _ := s.Match(&inc)
	return out
}
