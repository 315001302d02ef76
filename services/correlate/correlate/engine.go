package correlate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// DefaultIncidentWindow is how long after an incident's last alert (in
// event time) a new alert with the same key still joins it.
const DefaultIncidentWindow = time.Hour

// maxChain bounds how many closed incidents of a key are searched for an
// alert that is older than the current incident.
const maxChain = 16

// EngineOptions tune an Engine. The zero value uses the defaults.
type EngineOptions struct {
	// Window is the incident window (default DefaultIncidentWindow).
	Window time.Duration
	// Now returns the processing time stamped on alerts (CreatedAt) and
	// incident versions (UpdatedAt); default time.Now in UTC.
	Now func() time.Time
	// Metrics receives the engine's counters; nil creates unregistered ones.
	Metrics *Metrics
	// Logger receives evaluation errors; nil means slog.Default().
	Logger *slog.Logger
	// MaxRetries bounds the re-reads after a store conflict (default 5).
	MaxRetries int
	// MaxAlerts bounds the alerts of one incident (default
	// DefaultMaxAlerts); a further alert for the key opens a continuation
	// incident, which keeps incident records and store values bounded when
	// a rule fires continuously.
	MaxAlerts int
	// AllowedLateness is how far (event time) behind the highest time seen
	// for its site an event may arrive and still update windows and
	// sequences; later events are counted and only match rules see them
	// (default DefaultAllowedLateness).
	AllowedLateness time.Duration
	// MaxKeys bounds the live keys per stateful rule when the rule does not
	// set max_keys (default DefaultMaxKeys).
	MaxKeys int
	// StoreConcurrency bounds the incident keys of one batch whose store
	// reads and writes are in flight at once (default
	// DefaultStoreConcurrency; 1: one key after the other).
	StoreConcurrency int
}

// DefaultStoreConcurrency is the default of EngineOptions.StoreConcurrency.
const DefaultStoreConcurrency = 32

// DefaultAllowedLateness is the default allowed lateness of events.
const DefaultAllowedLateness = time.Minute

// DefaultMaxAlerts is the default bound on the alerts of one incident.
const DefaultMaxAlerts = 1000

// Engine turns batches of enriched events into alerts and incident
// versions. It is safe for concurrent use, though concurrent batches for
// the same incident key contend on the store.
type Engine struct {
	rules   *rule.Set
	store   IncidentStore
	window  time.Duration
	now     func() time.Time
	metrics *Metrics
	log     *slog.Logger
	retries int
	maxAl   int
	// parallel is EngineOptions.StoreConcurrency.
	parallel int
	// matcher (and its expr VM) is reused across batches; evaluation is
	// serialised by mu.
	matcher *rule.Matcher
	// mu serialises the stateful part of Process (windows, sequences,
	// watermarks).
	mu  sync.Mutex
	win *windows
	// ruleMatches are the RuleMatches counters by rule (resolved once: a
	// label lookup per hit is measurable).
	ruleMatches map[*rule.Rule]prometheus.Counter
	// memo is the evaluation of the last positioned batch: a retry of the
	// same position reuses it instead of applying the events to the
	// windows twice.
	memo struct {
		seq    uint64
		alerts []event.Alert
		owners []*event.Event
	}
}

// NewEngine returns an Engine evaluating rules and keeping incidents in
// store.
func NewEngine(rules *rule.Set, store IncidentStore, opts EngineOptions) *Engine {
	e := &Engine{rules: rules, store: store, window: opts.Window, now: opts.Now, metrics: opts.Metrics, log: opts.Logger,
		retries: opts.MaxRetries, maxAl: opts.MaxAlerts, parallel: opts.StoreConcurrency}
	if e.parallel <= 0 {
		e.parallel = DefaultStoreConcurrency
	}
	if e.window <= 0 {
		e.window = DefaultIncidentWindow
	}
	if e.now == nil {
		e.now = func() time.Time { return time.Now().UTC() }
	}
	if e.metrics == nil {
		e.metrics, _ = NewMetrics(nil) // unregistered metrics cannot fail
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.retries <= 0 {
		e.retries = 5
	}
	if e.maxAl <= 0 {
		e.maxAl = DefaultMaxAlerts
	}
	if opts.AllowedLateness < 0 {
		opts.AllowedLateness = 0
	} else if opts.AllowedLateness == 0 {
		opts.AllowedLateness = DefaultAllowedLateness
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	e.win = newWindows(rules, opts.AllowedLateness, opts.MaxKeys, e.metrics)
	e.matcher = rules.NewMatcher()
	e.ruleMatches = make(map[*rule.Rule]prometheus.Counter, len(rules.Enabled()))
	for _, r := range rules.Enabled() {
		e.ruleMatches[r] = e.metrics.RuleMatches.WithLabelValues(r.ID)
		e.metrics.RuleErrors.WithLabelValues(r.ID)
	}
	return e
}

// ValidateEvent reports why an event cannot be correlated: it needs an id
// (alert ids derive from it), a site (incidents are per site) and a time
// (incident windows are in event time).
func ValidateEvent(ev *event.Event) error {
	switch {
	case ev.ID == "":
		return errors.New("event has no id")
	case ev.Site == "":
		return fmt.Errorf("event %s has no site", ev.ID)
	case ev.Time.IsZero():
		return fmt.Errorf("event %s has no time", ev.ID)
	}
	return nil
}

// pending is an alert waiting for its incident, with its triggering event.
type pending struct {
	alert *event.Alert
	ev    *event.Event
	title string
}

// Process evaluates the rules against evs and assigns the resulting alerts
// to incidents. It returns every alert raised (with IncidentID set) and
// every incident the batch touched, in its current version: a version
// number is incremented at most once per incident and batch, and only when
// the batch changed the incident; alerts already applied (a redelivery)
// leave their incident unchanged and it is returned as stored, so that a
// retried publication is complete. Invalid events (see ValidateEvent) are
// skipped and counted; callers dead-letter them beforehand.
//
// An error means the incident store failed; nothing the batch produced may
// be published and the whole batch should be retried.
func (e *Engine) Process(ctx context.Context, evs []event.Event) ([]event.Alert, []event.Incident, error) {
	return e.ProcessAt(ctx, 0, evs)
}

// ProcessAt is Process for the batch at input position seq (the stream
// sequence of its message; 0: unknown). Positions make stateful rules
// exactly-once: a retry of the last position reuses its evaluation, and
// after a restart from a checkpoint, keys whose state already contains a
// position are not updated again by its replay (their alerts were
// published before the checkpoint was written).
func (e *Engine) ProcessAt(ctx context.Context, seq uint64, evs []event.Event) ([]event.Alert, []event.Incident, error) {
	alerts, owners := e.evaluateAt(seq, evs)
	if len(alerts) == 0 {
		return nil, nil, nil
	}
	e.metrics.Alerts.Add(float64(len(alerts)))

	// Group by (site, key) in order of first appearance.
	type groupKey struct{ site, key string }
	groups := map[groupKey][]pending{}
	var order []groupKey
	for i := range alerts {
		a := &alerts[i]
		gk := groupKey{a.Site, a.IncidentKey}
		if _, ok := groups[gk]; !ok {
			order = append(order, gk)
		}
		groups[gk] = append(groups[gk], pending{alert: a, ev: owners[i], title: a.RuleTitle})
	}
	// Groups touch disjoint incidents: their store reads and writes run
	// concurrently, so a batch costs about one round trip per incident key
	// and StoreConcurrency keys, not two per key in sequence.
	results := make([][]event.Incident, len(order))
	err := e.forEachGroup(ctx, len(order), func(ctx context.Context, i int) error {
		gk := order[i]
		incs, err := e.assign(ctx, gk.site, gk.key, groups[gk])
		results[i] = incs
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var incidents []event.Incident
	for _, incs := range results {
		incidents = append(incidents, incs...)
	}
	return alerts, incidents, nil
}

// forEachGroup runs f for 0..n-1 on up to e.parallel goroutines and returns
// the first error (the others are cancelled through ctx).
func (e *Engine) forEachGroup(ctx context.Context, n int, f func(context.Context, int) error) error {
	if n == 1 || e.parallel <= 1 {
		for i := range n {
			if err := f(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  atomic.Int64
	)
	for range min(n, e.parallel) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// assign applies one group's alerts to the store, re-reading and retrying
// after a conflict.
func (e *Engine) assign(ctx context.Context, site, key string, items []pending) ([]event.Incident, error) {
	// Event-time order makes incident windows independent of batch order;
	// equal times keep event and rule order, so the first alert (and with
	// it the incident id) is deterministic.
	slices.SortStableFunc(items, func(a, b pending) int {
		return a.alert.Time.Compare(b.alert.Time)
	})
	for attempt := 0; ; attempt++ {
		incs, err := e.tryAssign(ctx, site, key, items)
		if err == nil {
			return incs, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= e.retries || ctx.Err() != nil {
			return nil, fmt.Errorf("assign alerts to incident %s/%s: %w", site, key, err)
		}
		e.metrics.StoreConflicts.Inc()
	}
}

// tryAssign is one optimistic attempt of assign.
func (e *Engine) tryAssign(ctx context.Context, site, key string, items []pending) ([]event.Incident, error) {
	now := e.now()
	cur, rev, err := e.store.Current(ctx, site, key)
	var curp *Entry
	switch {
	case err == nil:
		curp = &cur
	case errors.Is(err, ErrNotFound):
	default:
		return nil, err
	}
	var closed []*Entry          // incidents this attempt closed, oldest first
	known := map[string]*Entry{} // closed incidents read or closed in this attempt
	changed := map[string]bool{} // incidents changed in this attempt
	var touched []*Entry         // incidents in order of first touch
	seen := map[*Entry]bool{}
	touch := func(en *Entry) {
		if !seen[en] {
			seen[en] = true
			touched = append(touched, en)
		}
	}
	created := 0
	// An incident holds up to MaxAlerts alert ids and every alert of the
	// batch is looked up in it: past a few ids the lookups use a set of
	// the current incident's ids (with about one alert per event, a
	// linear search per alert was a third of the correlator's CPU).
	var ids map[string]struct{}
	var idsOf *Entry
	applied := func(en *Entry, id string) bool {
		if len(en.Incident.AlertIDs) < 32 {
			return slices.Contains(en.Incident.AlertIDs, id)
		}
		if idsOf != en {
			ids = make(map[string]struct{}, len(en.Incident.AlertIDs)+len(items))
			for _, x := range en.Incident.AlertIDs {
				ids[x] = struct{}{}
			}
			idsOf = en
		}
		_, ok := ids[id]
		return ok
	}
	for _, it := range items {
		a := it.alert
		if curp != nil && applied(curp, a.ID) {
			a.IncidentID = curp.Incident.ID
			touch(curp)
			continue
		}
		if curp != nil && curp.Prev != "" && !a.Time.After(curp.ClosedLastSeen) {
			old, err := e.findClosed(ctx, curp.Prev, a.ID, known)
			if err != nil {
				return nil, err
			}
			if old != nil {
				a.IncidentID = old.Incident.ID
				touch(old)
				continue
			}
		}
		if curp == nil || a.Time.After(curp.Incident.LastSeen.Add(e.window)) || len(curp.Incident.AlertIDs) >= e.maxAl {
			next := &Entry{Incident: newIncident(a, it.ev, it.title, now)}
			if curp != nil {
				closed = append(closed, curp)
				known[curp.Incident.ID] = curp
				next.Prev = curp.Incident.ID
				next.ClosedLastSeen = curp.ClosedLastSeen
				if curp.Incident.LastSeen.After(next.ClosedLastSeen) {
					next.ClosedLastSeen = curp.Incident.LastSeen
				}
			}
			curp = next
			changed[curp.Incident.ID] = true
			created++
			a.IncidentID = curp.Incident.ID
			touch(curp)
			continue
		}
		if !changed[curp.Incident.ID] {
			curp.Incident.Version++
			curp.Incident.UpdatedAt = now
			changed[curp.Incident.ID] = true
		}
		mergeAlert(&curp.Incident, a, it.ev, it.title)
		if idsOf == curp {
			ids[a.ID] = struct{}{}
		}
		a.IncidentID = curp.Incident.ID
		touch(curp)
	}
	if len(changed) > 0 {
		closedVals := make([]Entry, len(closed))
		for i, c := range closed {
			closedVals[i] = *c
		}
		if _, err := e.store.Put(ctx, *curp, rev, closedVals); err != nil {
			return nil, err
		}
		e.metrics.IncidentVersions.WithLabelValues(changeCreated).Add(float64(created))
		e.metrics.IncidentVersions.WithLabelValues(changeUpdated).Add(float64(len(changed) - created))
	}
	out := make([]event.Incident, 0, len(touched))
	for _, en := range touched {
		out = append(out, cloneIncident(en.Incident))
	}
	return out, nil
}

// findClosed searches the closed incidents of a key, newest first from id,
// for the one holding alertID; nil when none does.
func (e *Engine) findClosed(ctx context.Context, id, alertID string, known map[string]*Entry) (*Entry, error) {
	for range maxChain {
		if id == "" {
			return nil, nil
		}
		en, ok := known[id]
		if !ok {
			got, err := e.store.Previous(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil, nil // expired or never stored
			}
			if err != nil {
				return nil, err
			}
			en = &got
			known[id] = en
		}
		if slices.Contains(en.Incident.AlertIDs, alertID) {
			return en, nil
		}
		id = en.Prev
	}
	return nil, nil
}

// evaluate runs the rules over evs: match rules directly, stateful rules
// through their windows and sequences, and after each event the absence
// rules of its site. It returns the alerts in a deterministic order
// (event order, then rule order; after each event the absence alerts its
// watermark made due, by rule and key) and the event each alert describes.
// The alerts do not depend on how the events are split into batches.
func (e *Engine) evaluateAt(seq uint64, evs []event.Event) ([]event.Alert, []*event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if seq != 0 && seq == e.memo.seq {
		alerts := slices.Clone(e.memo.alerts)
		for i := range alerts {
			alerts[i].IncidentID = ""
		}
		return alerts, e.memo.owners
	}
	alerts, owners := e.evaluate(seq, evs)
	if seq != 0 {
		e.memo.seq, e.memo.alerts, e.memo.owners = seq, slices.Clone(alerts), owners
	}
	return alerts, owners
}

// evaluate does the work of evaluateAt; e.mu is held.
func (e *Engine) evaluate(seq uint64, evs []event.Event) ([]event.Alert, []*event.Event) {
	now := e.now()
	var alerts []event.Alert
	var owners []*event.Event
	m := e.matcher
	e.win.begin(seq)
	absence := e.win.hasAbsence()
	var matches []rule.Match
	var hits []rule.Hit
	for i := range evs {
		ev := &evs[i]
		if err := ValidateEvent(ev); err != nil {
			e.metrics.InvalidEvents.Inc()
			e.log.Warn("skip invalid event", "err", err)
			continue
		}
		e.metrics.Events.Inc()
		onTime := e.win.observe(ev)
		if !onTime {
			e.metrics.LateEvents.Inc()
		}
		if absence {
			e.win.noteMaint(ev)
		}
		var errs []*rule.EvalError
		matches, hits, errs = m.Eval(ev, matches[:0], hits[:0])
		for _, err := range errs {
			e.metrics.RuleErrors.WithLabelValues(err.RuleID).Inc()
			e.log.Warn("rule evaluation failed", "rule", err.RuleID, "part", err.Part, "event", ev.ID, "err", err.Err)
		}
		for _, mt := range matches {
			r := mt.Rule
			e.ruleMatches[r].Inc()
			if r.Suppress > 0 && e.win.matchSuppressed(r, ev, mt.IncidentKey) {
				continue
			}
			alerts = append(alerts, newAlert(mt, ev, event.NewID("alert", r.ID, ev.ID), ev.Time, []string{ev.ID}, now))
			owners = append(owners, ev)
		}
		for i := range hits {
			if !onTime {
				break // late events only reach match rules
			}
			h := &hits[i]
			e.ruleMatches[h.Rule].Inc()
			f := e.win.apply(*h, ev, keyTexter{m: m, hit: h, ev: ev})
			if f == nil {
				continue
			}
			alerts = append(alerts, e.describe(m, f, now))
			owners = append(owners, f.ev)
		}
		// Absence keys are checked after every event, not once per batch:
		// whether a heartbeat beats the watermark to its deadline must not
		// depend on where the batch boundaries fall.
		if absence {
			for _, f := range e.win.silent(ev.Site) {
				alerts = append(alerts, e.describe(m, f, now))
				owners = append(owners, f.ev)
			}
		}
	}
	return alerts, owners
}

// describe turns an alert raised by a stateful rule into an Alert.
func (e *Engine) describe(m *rule.Matcher, f *fired, now time.Time) event.Alert {
	mt, errs := m.Describe(f.rule, f.ev)
	for _, err := range errs {
		e.metrics.RuleErrors.WithLabelValues(err.RuleID).Inc()
		e.log.Warn("rule evaluation failed", "rule", err.RuleID, "part", err.Part, "event", f.ev.ID, "err", err.Err)
	}
	return newAlert(mt, f.ev, f.id, f.at, f.events, now)
}

// newAlert builds the alert of a rule match described by mt for ev.
func newAlert(mt rule.Match, ev *event.Event, id string, at time.Time, eventIDs []string, now time.Time) event.Alert {
	r := mt.Rule
	return event.Alert{
		ID:          id,
		Time:        at,
		CreatedAt:   now,
		Site:        ev.Site,
		RuleID:      r.ID,
		RuleTitle:   r.Title,
		Severity:    r.Severity,
		Techniques:  slices.Clone(r.Attack),
		IncidentKey: mt.IncidentKey,
		EventIDs:    slices.Clone(eventIDs),
		Summary:     mt.Summary,
		Src:         ev.Src,
		Dst:         ev.Dst,
		Fields:      mt.Fields,
	}
}

// Reload switches the engine to a new rule set between batches. The
// window, sequence and absence state of every stateful rule whose id and
// Fingerprint are unchanged is kept; the state of changed and removed
// rules is dropped (and deleted from the checkpoint bucket by the next
// StateStore.Save). It returns how many rules kept and dropped state.
func (e *Engine) Reload(rules *rule.Set) (kept, dropped int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.win
	nw := newWindows(rules, old.lateness, old.maxKeys, e.metrics)
	nw.wm, nw.maint, nw.dirty, nw.deleted, nw.dirtySites = old.wm, old.maint, old.dirty, old.deleted, old.dirtySites
	for id, rw := range old.rules {
		if n, ok := nw.rules[id]; ok && n.rule.Fingerprint() == rw.rule.Fingerprint() {
			n.keys = rw.keys
			for pk := range rw.keys {
				if len(n.keys) <= n.max {
					break
				}
				nw.remove(n, pk)
			}
			kept++
			continue
		}
		for pk := range rw.keys {
			nw.deleted[stateRef{id, pk}] = struct{}{}
			delete(nw.dirty, stateRef{id, pk})
		}
		e.metrics.LiveKeys.DeleteLabelValues(id)
		dropped++
	}
	e.win = nw
	e.rules = rules
	e.matcher = rules.NewMatcher()
	e.memo.seq = 0
	for _, r := range rules.Enabled() {
		if _, ok := e.ruleMatches[r]; !ok {
			e.ruleMatches[r] = e.metrics.RuleMatches.WithLabelValues(r.ID)
			e.metrics.RuleErrors.WithLabelValues(r.ID)
		}
	}
	return kept, dropped
}

// Rules returns the rule set in use (the last one given to Reload).
func (e *Engine) Rules() *rule.Set {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rules
}

// resetState drops the window, sequence, absence and watermark state (and
// the memo of the last batch), so that a checkpoint can be loaded again
// (StateStore.Load). The rules and the incident store stay.
func (e *Engine) resetState() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.win = newWindows(e.rules, e.win.lateness, e.win.maxKeys, e.metrics)
	e.memo.seq, e.memo.alerts, e.memo.owners = 0, nil, nil
}
