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
	// MaxAlerts, when positive, bounds the alerts of one incident: a
	// further alert for the key opens a continuation incident. 0 (the
	// default) does not bound them: an incident version and its store
	// value keep KeptAlertIDs alert ids and a count, whatever the number
	// of alerts.
	MaxAlerts int
	// ReplayDepth is how many of a key's most recent input positions keep
	// their journal (Entry.Applied) for redeliveries (default
	// DefaultReplayDepth). It must be at least the number of messages that
	// can be applied and not yet acknowledged (the consumer's
	// MaxAckPending): only those can be redelivered.
	ReplayDepth int
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

// DefaultReplayDepth is the default of EngineOptions.ReplayDepth, the
// service's default MaxAckPending.
const DefaultReplayDepth = DefaultMaxAckPending

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
	// maxAl is EngineOptions.MaxAlerts (0: no bound) and depth
	// EngineOptions.ReplayDepth.
	maxAl int
	depth int
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
	// alertHint is the number of alerts of the last batch evaluated.
	alertHint int
	// arena holds the alerts' copies of event strings (see own.go); the
	// matcher copies into it too (rule.Matcher.Copy).
	arena arena
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
		retries: opts.MaxRetries, maxAl: max(opts.MaxAlerts, 0), depth: opts.ReplayDepth, parallel: opts.StoreConcurrency}
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
	if e.depth <= 0 {
		e.depth = DefaultReplayDepth
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
	e.matcher.Copy = e.arena.copy
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
// the batch changed the incident. Process has no input position: every
// call is new input (see ProcessAt for redeliveries). Invalid events (see
// ValidateEvent) are skipped and counted; callers dead-letter them
// beforehand.
//
// An error means the incident store failed; nothing the batch produced may
// be published and the whole batch should be retried.
func (e *Engine) Process(ctx context.Context, evs []event.Event) ([]event.Alert, []event.Incident, error) {
	return e.ProcessAt(ctx, 0, evs)
}

// ProcessAt is Process for the batch at input position seq (the stream
// sequence of its message; 0: unknown). Positions make processing
// exactly-once: a retry of the last position reuses its evaluation; after
// a restart from a checkpoint, keys whose state already contains a
// position are not updated again by its replay (their alerts were
// published before the checkpoint was written); and an incident key whose
// journal (Entry.Applied) holds the position already has its alerts:
// they are given the incidents the journal names, nothing changes, and
// those incidents are returned as stored, so that a retried publication is
// complete. Recognising a redelivery costs a look-up in the key's journal
// (at most ReplayDepth positions), whatever the number of alerts. Callers
// must not change the alerts returned for a position: the engine keeps
// them for a retry of the position (which returns copies).
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
		incs, err := e.assign(ctx, seq, gk.site, gk.key, groups[gk])
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
	return forEach(ctx, n, e.parallel, f)
}

// forEach runs f for 0..n-1 on up to parallel goroutines and returns the
// first error (the others are cancelled through ctx; an index not started
// by then is skipped).
func forEach(ctx context.Context, n, parallel int, f func(context.Context, int) error) error {
	if n == 1 || parallel <= 1 {
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
	for range min(n, parallel) {
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

// assign applies one group's alerts (input position seq) to the store,
// re-reading and retrying after a conflict.
func (e *Engine) assign(ctx context.Context, seq uint64, site, key string, items []pending) ([]event.Incident, error) {
	// Event-time order makes incident windows independent of batch order;
	// equal times keep event and rule order, so the first alert (and with
	// it the incident id) is deterministic, and so is the order in which a
	// journal's runs are taken again by a redelivery.
	slices.SortStableFunc(items, func(a, b pending) int {
		return a.alert.Time.Compare(b.alert.Time)
	})
	for attempt := 0; ; attempt++ {
		incs, err := e.tryAssign(ctx, seq, site, key, items)
		if err == nil {
			return incs, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= e.retries || ctx.Err() != nil {
			return nil, fmt.Errorf("assign alerts to incident %s/%s: %w", site, key, err)
		}
		e.metrics.StoreConflicts.Inc()
	}
}

// tryAssign is one optimistic attempt of assign. Its cost does not depend
// on how many alerts the key's incidents have: an incident keeps
// KeptAlertIDs alert ids and a count, and a redelivery is recognised by
// its position in the key's journal, not by looking its alerts up.
func (e *Engine) tryAssign(ctx context.Context, seq uint64, site, key string, items []pending) ([]event.Incident, error) {
	cur, rev, err := e.store.Current(ctx, site, key)
	var curp *Entry
	switch {
	case err == nil:
		curp = &cur
	case errors.Is(err, ErrNotFound):
	default:
		return nil, err
	}
	if curp != nil && seq != 0 {
		if runs, ok := journaled(curp, seq); ok {
			e.metrics.ReappliedAlerts.WithLabelValues(reappliedJournal).Add(float64(len(items)))
			return e.reapply(ctx, curp, runs, items)
		}
		if seq <= curp.Seq && len(curp.Applied) >= e.depth && seq < curp.Applied[0].Seq {
			e.metrics.ReappliedAlerts.WithLabelValues(reappliedBeyond).Add(float64(len(items)))
			e.log.Warn("redelivered position is older than the incident key's journal; its alerts are taken as applied to the current incident",
				"site", site, "key", key, "seq", seq, "journal_from", curp.Applied[0].Seq, "replay_depth", e.depth)
			return e.reapply(ctx, curp, nil, items)
		}
	}
	// An alert whose id the current incident keeps (its first and last
	// KeptAlertIDs/2) is applied already: the same event under a new
	// position (a duplicate upstream) or twice in the batch changes
	// nothing. An incident stored before alert counts existed holds every
	// alert id: they are all looked up, this once. An applied alert is no
	// later than the incident's LastSeen, and the same alert twice in the
	// batch has the same time as the alerts just before it (items are in
	// time order): only then are ids compared, in a set built on first
	// need (most alerts of a live stream are newer than their incident).
	var known idSet
	built := false
	var stored *Entry // the current incident as read
	var storedIDs []string
	var storedLast time.Time
	if curp != nil {
		stored, storedIDs, storedLast = curp, curp.Incident.AlertIDs, curp.Incident.LastSeen
		if curp.Incident.AlertCount == 0 {
			storedIDs = slices.Clone(storedIDs) // upgradeIncident trims them
		}
		upgradeIncident(&curp.Incident)
	}
	went := make([]*Entry, 0, len(items)) // the incident of each item so far
	now := e.now()
	var closed []*Entry          // incidents this attempt closed, oldest first
	changed := map[string]bool{} // incidents changed in this attempt
	var touched []*Entry         // incidents in order of first touch
	var runs []Run               // where the alerts went, for the journal
	touch := func(en *Entry, a *event.Alert) {
		a.IncidentID = en.Incident.ID
		if n := len(runs); n > 0 && runs[n-1].Incident == a.IncidentID {
			runs[n-1].Alerts++
		} else {
			runs = append(runs, Run{Incident: a.IncidentID, Alerts: 1})
		}
		if !slices.Contains(touched, en) { // a few incidents per batch at most
			touched = append(touched, en)
		}
	}
	created, reapplied := 0, 0
	build := func() {
		for _, id := range storedIDs {
			known.add(id, stored)
		}
		for j, en := range went {
			known.add(items[j].alert.ID, en)
		}
		built = true
	}
	for k, it := range items {
		a := it.alert
		var dup *Entry // the incident already holding a
		switch {
		case built:
		case stored != nil && !a.Time.After(storedLast):
			build()
		default:
			// The alerts of one event (several rules) share its time:
			// the few before a with the same time are compared, a long
			// run of equal times is looked up in the set.
			for j := k - 1; j >= 0 && items[j].alert.Time.Equal(a.Time); j-- {
				if k-j > sameTimeScan {
					build()
					break
				}
				if items[j].alert.ID == a.ID {
					dup = went[j]
					break
				}
			}
		}
		if built {
			dup = known.find(a.ID)
		}
		if dup != nil {
			reapplied++
			touch(dup, a)
			went = append(went, dup)
			continue
		}
		if curp == nil || a.Time.After(curp.Incident.LastSeen.Add(e.window)) || (e.maxAl > 0 && curp.Incident.AlertCount >= e.maxAl) {
			next := &Entry{Incident: newIncident(a, it.ev, it.title, now)}
			if curp != nil {
				closed = append(closed, curp)
				next.Prev = curp.Incident.ID
				next.ClosedLastSeen = curp.ClosedLastSeen
				if curp.Incident.LastSeen.After(next.ClosedLastSeen) {
					next.ClosedLastSeen = curp.Incident.LastSeen
				}
				// The journal stays with the key's current incident; the
				// runs that meant the closed one now name it.
				next.Seq, next.Applied = curp.Seq, nameRuns(curp.Applied, curp.Incident.ID)
				curp.Seq, curp.Applied = 0, nil
			}
			curp = next
			changed[curp.Incident.ID] = true
			created++
			touch(curp, a)
			went = append(went, curp)
			if built {
				known.add(a.ID, curp)
			}
			continue
		}
		if !changed[curp.Incident.ID] {
			curp.Incident.Version++
			curp.Incident.UpdatedAt = now
			changed[curp.Incident.ID] = true
		}
		mergeAlert(&curp.Incident, a, it.ev, it.title)
		touch(curp, a)
		went = append(went, curp)
		if built {
			known.add(a.ID, curp)
		}
	}
	if reapplied > 0 {
		e.metrics.ReappliedAlerts.WithLabelValues(reappliedAlertID).Add(float64(reapplied))
	}
	if len(changed) > 0 {
		curp.Incident.AlertIDs = trimAlertIDs(curp.Incident.AlertIDs)
		for _, c := range closed {
			c.Incident.AlertIDs = trimAlertIDs(c.Incident.AlertIDs)
		}
		if seq != 0 {
			for i := range runs {
				if runs[i].Incident == curp.Incident.ID {
					runs[i].Incident = ""
				}
			}
			curp.Applied = append(curp.Applied, Applied{Seq: seq, Runs: runs})
			if over := len(curp.Applied) - e.depth; over > 0 {
				curp.Applied = slices.Delete(curp.Applied, 0, over)
			}
			curp.Seq = max(curp.Seq, seq)
		}
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
	// The entries are this attempt's own (the store's Current and Put
	// never alias the caller's slices): returned as they are.
	out := make([]event.Incident, 0, len(touched))
	for _, en := range touched {
		out = append(out, en.Incident)
	}
	return out, nil
}

// sameTimeScan bounds the alerts of equal time compared one by one with
// the next one before tryAssign looks ids up in a set.
const sameTimeScan = 8

// idSet maps alert ids to the incident entry holding them: a slice while
// small, a map past idSetSmall ids.
type idSet struct {
	ids     []string
	entries []*Entry
	m       map[string]*Entry
}

// idSetSmall is the size up to which an idSet searches a slice.
const idSetSmall = 16

// add records that the alert id is in en.
func (s *idSet) add(id string, en *Entry) {
	if s.m != nil {
		s.m[id] = en
		return
	}
	s.ids, s.entries = append(s.ids, id), append(s.entries, en)
	if len(s.ids) > idSetSmall {
		s.m = make(map[string]*Entry, 2*len(s.ids))
		for i, x := range s.ids {
			s.m[x] = s.entries[i]
		}
		s.ids, s.entries = nil, nil
	}
}

// find returns the entry holding id, or nil.
func (s *idSet) find(id string) *Entry {
	if s.m != nil {
		return s.m[id]
	}
	for i, x := range s.ids {
		if x == id {
			return s.entries[i]
		}
	}
	return nil
}

// journaled returns the runs the key's journal recorded for position seq.
func journaled(en *Entry, seq uint64) ([]Run, bool) {
	if seq > en.Seq {
		return nil, false
	}
	for i := len(en.Applied) - 1; i >= 0; i-- {
		if en.Applied[i].Seq == seq {
			return en.Applied[i].Runs, true
		}
	}
	return nil, false
}

// nameRuns returns the journal j with the runs of its entry's own incident
// ("") naming it by id; records are replaced, never changed (entries
// share them).
func nameRuns(j []Applied, id string) []Applied {
	out := slices.Clone(j)
	for i := range out {
		if !slices.ContainsFunc(out[i].Runs, func(r Run) bool { return r.Incident == "" }) {
			continue
		}
		runs := slices.Clone(out[i].Runs)
		for k := range runs {
			if runs[k].Incident == "" {
				runs[k].Incident = id
			}
		}
		out[i].Runs = runs
	}
	return out
}

// reapply gives the alerts of a position already applied to the key (cur
// is its current entry) the incidents runs recorded for them, in order,
// and returns those incidents as stored. Alerts beyond the runs (nil runs:
// all of them) go to the current incident.
func (e *Engine) reapply(ctx context.Context, cur *Entry, runs []Run, items []pending) ([]event.Incident, error) {
	var ids []string
	r, used := 0, 0
	for _, it := range items {
		id := cur.Incident.ID
		if r < len(runs) {
			if runs[r].Incident != "" {
				id = runs[r].Incident
			}
			if used++; used >= runs[r].Alerts {
				r, used = r+1, 0
			}
		}
		it.alert.IncidentID = id
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out := make([]event.Incident, 0, len(ids))
	for _, id := range ids {
		if id == cur.Incident.ID {
			out = append(out, cur.Incident) // this attempt's own copy
			continue
		}
		en, err := e.store.Previous(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // expired from the store
		}
		if err != nil {
			return nil, err
		}
		out = append(out, en.Incident)
	}
	return out, nil
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
		// Shared with the caller, who only sets IncidentID (a retry
		// clears it in its copy): copying every alert of every batch for
		// the rare retry cost 8% of the engine's CPU.
		e.memo.seq, e.memo.alerts, e.memo.owners = seq, alerts, owners
	}
	return alerts, owners
}

// evaluate does the work of evaluateAt; e.mu is held.
func (e *Engine) evaluate(seq uint64, evs []event.Event) ([]event.Alert, []*event.Event) {
	now := e.now()
	// Sized like the previous batch's: appending alerts (about 600 bytes
	// each) one by one copied them several times.
	alerts := make([]event.Alert, 0, e.alertHint)
	owners := make([]*event.Event, 0, e.alertHint)
	defer func() { e.alertHint = len(alerts) }()
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
		site := e.win.site(ev.Site) // the state's own copy (see own.go)
		onTime := e.win.observe(site, ev)
		if !onTime {
			e.metrics.LateEvents.Inc()
		}
		if absence {
			e.win.noteMaint(site, ev)
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
			if r.Suppress > 0 && e.win.matchSuppressed(r, site, ev, mt.IncidentKey) {
				continue
			}
			alerts = append(alerts, e.newAlert(mt, site, ev, event.NewID("alert", r.ID, ev.ID), ev.Time, []string{ev.ID}, now))
			owners = append(owners, ev)
		}
		for i := range hits {
			if !onTime {
				break // late events only reach match rules
			}
			h := &hits[i]
			e.ruleMatches[h.Rule].Inc()
			f := e.win.apply(*h, site, ev, keyTexter{m: m, hit: h, ev: ev})
			if f == nil {
				continue
			}
			alerts = append(alerts, e.describe(m, site, f, now))
			owners = append(owners, f.ev)
		}
		// Absence keys are checked after every event, not once per batch:
		// whether a heartbeat beats the watermark to its deadline must not
		// depend on where the batch boundaries fall.
		if absence {
			for _, f := range e.win.silent(site) {
				alerts = append(alerts, e.describe(m, site, f, now))
				owners = append(owners, f.ev)
			}
		}
	}
	e.win.settle()
	return alerts, owners
}

// describe turns an alert raised by a stateful rule for a key of site (as
// returned by windows.site) into an Alert.
func (e *Engine) describe(m *rule.Matcher, site string, f *fired, now time.Time) event.Alert {
	mt, errs := m.Describe(f.rule, f.ev)
	for _, err := range errs {
		e.metrics.RuleErrors.WithLabelValues(err.RuleID).Inc()
		e.log.Warn("rule evaluation failed", "rule", err.RuleID, "part", err.Part, "event", f.ev.ID, "err", err.Err)
	}
	return e.newAlert(mt, site, f.ev, f.id, f.at, f.events, now)
}

// newAlert builds the alert of a rule match described by mt (by e.matcher,
// whose Copy put its strings in e.arena) for ev, of site (ev's, as
// returned by windows.site). The memo keeps the alert for a retry, and
// incidents and the caller take strings from it: what it takes from ev is
// copied into e.arena, so that none points into the input. e.mu is held.
func (e *Engine) newAlert(mt rule.Match, site string, ev *event.Event, id string, at time.Time, eventIDs []string, now time.Time) event.Alert {
	r := mt.Rule
	ids := make([]string, len(eventIDs))
	for i, x := range eventIDs {
		ids[i] = e.arena.copy(x)
	}
	return event.Alert{
		ID:          id,
		Time:        at,
		CreatedAt:   now,
		Site:        site,
		RuleID:      r.ID,
		RuleTitle:   r.Title,
		Severity:    r.Severity,
		Techniques:  slices.Clone(r.Attack),
		IncidentKey: mt.IncidentKey,
		EventIDs:    ids,
		Summary:     mt.Summary,
		Src:         e.arena.endpoint(ev.Src),
		Dst:         e.arena.endpoint(ev.Dst),
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
	nw.wm, nw.maint, nw.dirty, nw.deleted, nw.dirtySites, nw.names = old.wm, old.maint, old.dirty, old.deleted, old.dirtySites, old.names
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
	e.matcher.Copy = e.arena.copy
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
