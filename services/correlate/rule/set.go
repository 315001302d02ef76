package rule

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr/vm"

	"github.com/c981/c981/services/shared/event"
)

// Set is an immutable collection of compiled rules with unique ids. It is
// safe for concurrent use.
type Set struct {
	rules   []*Rule
	enabled []*Rule
	byID    map[string]*Rule
	pool    sync.Pool
	index   *index
}

// NewSet builds a Set from compiled rules; duplicate ids are an error that
// names both definitions.
func NewSet(rules ...*Rule) (*Set, error) {
	s := &Set{byID: make(map[string]*Rule, len(rules))}
	for _, r := range rules {
		if prev, ok := s.byID[r.ID]; ok {
			return nil, &LoadError{File: r.File, Line: r.Line, RuleID: r.ID, Part: "id",
				Err: fmt.Errorf("duplicate rule id, first defined at %s:%d", prev.File, prev.Line)}
		}
		s.byID[r.ID] = r
		s.rules = append(s.rules, r)
		if r.Enabled {
			s.enabled = append(s.enabled, r)
		}
	}
	s.index = buildIndex(s.enabled)
	s.pool.New = func() any { return s.NewMatcher() }
	return s, nil
}

// Rules returns every rule (enabled or not) in load order. The slice must
// not be modified.
func (s *Set) Rules() []*Rule { return s.rules }

// Enabled returns the rules that are evaluated, in load order. The slice
// must not be modified.
func (s *Set) Enabled() []*Rule { return s.enabled }

// Rule returns the rule with the given id.
func (s *Set) Rule(id string) (*Rule, bool) {
	r, ok := s.byID[id]
	return r, ok
}

// Match evaluates every enabled rule against ev and returns the matches in
// rule order. Rules whose evaluation failed are reported in errs; the other
// rules are still evaluated. It is safe for concurrent use.
func (s *Set) Match(ev *event.Event) (matches []Match, errs []*EvalError) {
	m := s.pool.Get().(*Matcher)
	defer s.pool.Put(m)
	return m.Match(ev, nil)
}

// NewMatcher returns a Matcher for one goroutine.
func (s *Set) NewMatcher() *Matcher {
	return &Matcher{set: s, env: newEnv()}
}

// Match is one rule matching one event.
type Match struct {
	// Rule is the rule that matched.
	Rule *Rule
	// IncidentKey groups the alert into an incident (with the event's site).
	IncidentKey string
	// Summary is the one-line description of the alert.
	Summary string
	// Fields are the event fields the rule copies into the alert; nil when
	// none are set.
	Fields map[string]string
}

// EvalError is a failed evaluation of one rule expression for one event.
type EvalError struct {
	// RuleID is the rule whose expression failed.
	RuleID string
	// Part is condition, incident_key or summary.
	Part string
	// Err is the expr runtime error.
	Err error
}

// Error implements error.
func (e *EvalError) Error() string {
	return fmt.Sprintf("rule %s: %s: %v", e.RuleID, e.Part, e.Err)
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }

// Matcher evaluates a Set: natively compiled conditions and keys directly,
// the others with one reusable expr virtual machine. It is not safe for
// concurrent use: use one Matcher per goroutine.
type Matcher struct {
	set  *Set
	env  *Env
	vm   vm.VM
	cand []int32
	// interpret disables the native closures (tests compare both paths).
	interpret bool
	// Copy, when set, is applied to the incident key, summary and field
	// values of every Match described: a caller whose events' strings
	// point into an input buffer (event.UnmarshalEventsShared) makes the
	// matches its own, as they are built, with no pass over them later.
	Copy func(string) string
}

// Match evaluates every enabled match rule against ev, appends the matches
// to dst and returns it with the evaluation errors. Stateful rules are not
// evaluated (see Eval). A failing condition skips that rule; a failing
// incident_key or summary falls back to the default and is reported, so
// the detection is not lost.
func (m *Matcher) Match(ev *event.Event, dst []Match) ([]Match, []*EvalError) {
	dst, _, errs := m.Eval(ev, dst, nil)
	return dst, errs
}

// Hit is an event satisfying the condition of a stateful rule (threshold,
// distinct, absence) or of one step of a sequence: the input of the
// correlation engine's windows.
type Hit struct {
	// Rule is the stateful rule.
	Rule *Rule
	// Step is the sequence step (0-based); 0 for other kinds.
	Step int
	// Key is the hash of the rule's group_by (or the step's by) values.
	Key uint64
	// Value is the hash of a distinct rule's distinct value.
	Value uint64
}

// Eval evaluates every enabled rule against ev: match rules append a
// complete Match to matches, stateful rules a Hit (with the key hash) to
// hits. Evaluation errors skip the rule (or step) concerned only. An
// event whose Fields were left raw (event.UnmarshalEventsRawFields) gets
// its Fields map (event.Event.DecodeFields) before the first part of a
// candidate rule that reads them (condition, key, alert description)
// runs, and only then: ev is modified.
func (m *Matcher) Eval(ev *event.Event, matches []Match, hits []Hit) ([]Match, []Hit, []*EvalError) {
	if ev == nil {
		return matches, hits, nil
	}
	m.env.set(ev)
	defer m.env.set(nil)
	var errs []*EvalError
	m.cand = m.set.index.candidates(ev, m.cand)
	for _, ci := range m.cand {
		en := m.set.index.entries[ci]
		r := en.rule
		if en.step >= 0 {
			st := r.Steps[en.step]
			needFields(ev, st.condFields)
			ok, err := m.test(st.ncond, st.cond, ev)
			if err != nil {
				errs = append(errs, &EvalError{RuleID: r.ID, Part: "steps[" + strconv.Itoa(en.step) + "].condition", Err: err})
				continue
			}
			if !ok {
				continue
			}
			needFields(ev, st.byFields)
			key, err := m.key(st.nby, st.by, ev)
			if err != nil {
				errs = append(errs, &EvalError{RuleID: r.ID, Part: "steps[" + strconv.Itoa(en.step) + "].by", Err: err})
				continue
			}
			hits = append(hits, Hit{Rule: r, Step: en.step, Key: key})
			continue
		}
		needFields(ev, r.condFields)
		ok, err := m.test(r.ncond, r.cond, ev)
		if err != nil {
			errs = append(errs, &EvalError{RuleID: r.ID, Part: "condition", Err: err})
			continue
		}
		if !ok {
			continue
		}
		if r.Kind == KindMatch {
			match, merrs := m.describe(r, ev)
			errs = append(errs, merrs...)
			matches = append(matches, match)
			continue
		}
		h := Hit{Rule: r}
		needFields(ev, r.keyFields)
		if h.Key, err = m.key(r.nkey, r.groupBy, ev); err != nil {
			errs = append(errs, &EvalError{RuleID: r.ID, Part: "group_by", Err: err})
			continue
		}
		if r.distinct != nil {
			if h.Value, err = m.key(r.ndistinct, []*vm.Program{r.distinct}, ev); err != nil {
				errs = append(errs, &EvalError{RuleID: r.ID, Part: "distinct", Err: err})
				continue
			}
		}
		hits = append(hits, h)
	}
	return matches, hits, errs
}

// Describe computes the incident key, summary and fields of rule r for the
// event ev (for a stateful rule: the event that completed it). Like Eval,
// it decodes ev's raw Fields when r reads them.
func (m *Matcher) Describe(r *Rule, ev *event.Event) (Match, []*EvalError) {
	m.env.set(ev)
	defer m.env.set(nil)
	return m.describe(r, ev)
}

// KeyText renders the key values of rule r (step of a sequence) for ev as
// text, "|"-separated: the readable form of Hit.Key. Like Eval, it
// decodes ev's raw Fields when r reads them.
func (m *Matcher) KeyText(r *Rule, step int, ev *event.Event) string {
	progs, reads := r.groupBy, r.keyFields
	if r.Kind == KindSequence && step < len(r.Steps) {
		progs, reads = r.Steps[step].by, r.Steps[step].byFields
	}
	needFields(ev, reads)
	m.env.set(ev)
	defer m.env.set(nil)
	parts := make([]string, 0, len(progs))
	for _, p := range progs {
		out, err := m.vm.Run(p, m.env)
		if err != nil {
			parts = append(parts, "?")
			continue
		}
		parts = append(parts, valueText(out))
	}
	return strings.Join(parts, "|")
}

// describe is Describe with m.env set to ev.
func (m *Matcher) describe(r *Rule, ev *event.Event) (Match, []*EvalError) {
	needFields(ev, r.describeFields)
	var errs []*EvalError
	match := Match{Rule: r}
	if r.nkeyText != nil && !m.interpret {
		match.IncidentKey = r.nkeyText(ev)
	} else if r.key != nil {
		key, err := m.runString(r.key)
		if err != nil {
			errs = append(errs, &EvalError{RuleID: r.ID, Part: "incident_key", Err: err})
		}
		match.IncidentKey = key
	}
	if match.IncidentKey == "" {
		match.IncidentKey = DefaultIncidentKey(ev)
	}
	if m.Copy != nil {
		match.IncidentKey = m.Copy(match.IncidentKey)
	}
	if r.nsummary != nil && !m.interpret {
		match.Summary = r.nsummary(ev)
	} else if r.summary != nil {
		sum, err := m.runString(r.summary)
		if err != nil {
			errs = append(errs, &EvalError{RuleID: r.ID, Part: "summary", Err: err})
		}
		match.Summary = sum
	}
	if match.Summary == "" {
		match.Summary = DefaultSummary(r.Title, ev)
	}
	if m.Copy != nil {
		match.Summary = m.Copy(match.Summary)
	}
	for _, g := range r.getters {
		if v := g.get(ev); v != "" {
			if match.Fields == nil {
				match.Fields = make(map[string]string, len(r.getters))
			}
			if m.Copy != nil {
				v = m.Copy(v)
			}
			match.Fields[g.name] = v
		}
	}
	return match, errs
}

// test evaluates a condition: natively when it has a native form.
func (m *Matcher) test(native func(*event.Event) bool, p *vm.Program, ev *event.Event) (bool, error) {
	if native != nil && !m.interpret {
		return native(ev), nil
	}
	return m.runBool(p)
}

// key hashes key expressions: natively when they have a native form.
func (m *Matcher) key(native func(uint64, *event.Event) uint64, progs []*vm.Program, ev *event.Event) (uint64, error) {
	if native != nil && !m.interpret {
		return native(fnvOffset, ev), nil
	}
	return m.hash(progs)
}

func (m *Matcher) runBool(p *vm.Program) (bool, error) {
	out, err := m.vm.Run(p, m.env)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// hash folds the values of the key expressions into one hash.
func (m *Matcher) hash(progs []*vm.Program) (uint64, error) {
	h := uint64(fnvOffset)
	for _, p := range progs {
		out, err := m.vm.Run(p, m.env)
		if err != nil {
			return 0, err
		}
		h = hashValue(h, out)
	}
	return h, nil
}

func (m *Matcher) runString(p *vm.Program) (string, error) {
	out, err := m.vm.Run(p, m.env)
	if err != nil {
		return "", err
	}
	s, _ := out.(string)
	return s, nil
}

// DefaultIncidentKey groups by the target asset: the destination asset id,
// else the destination address, else the reporting host, else "unknown".
// The site is not part of the key: incidents are grouped by (site, key).
func DefaultIncidentKey(ev *event.Event) string {
	switch {
	case ev.Dst.AssetID != "":
		return ev.Dst.AssetID
	case ev.DstIP != "":
		return ev.DstIP
	case ev.Host != "":
		return ev.Host
	}
	return "unknown"
}

// DefaultSummary is the rule title followed by "src -> dst", each endpoint
// named by its asset id or address; events without endpoints name the
// reporting host.
func DefaultSummary(title string, ev *event.Event) string {
	src := endpointName(ev.Src, ev.SrcIP)
	dst := endpointName(ev.Dst, ev.DstIP)
	switch {
	case src != "" && dst != "":
		return title + ": " + src + " -> " + dst
	case dst != "":
		return title + ": -> " + dst
	case src != "":
		return title + ": " + src + " ->"
	case ev.Host != "":
		return title + " on " + ev.Host
	}
	return title
}

func endpointName(ep event.Endpoint, ip string) string {
	switch {
	case ep.AssetID != "" && ip != "":
		return ep.AssetID + " (" + ip + ")"
	case ep.AssetID != "":
		return ep.AssetID
	}
	return ip
}
