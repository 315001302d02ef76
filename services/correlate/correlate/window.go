package correlate

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/correlate/rule"
	"github.com/c981/c981/services/shared/event"
)

// DefaultMaxKeys bounds the live keys of one stateful rule when neither the
// rule nor the engine options set a bound.
const DefaultMaxKeys = 200_000

// maxEventIDs bounds the contributing event ids kept per key (and copied
// into an alert): the most recent ones are kept.
const maxEventIDs = 10

// partKey addresses the state of one key of a rule in one partition (site).
type partKey struct {
	site string
	key  uint64
}

// keyState is the window or sequence state of one rule for one key. Times
// are Unix nanoseconds of event time. It is JSON-encoded in checkpoints.
type keyState struct {
	// Key is the readable key (the group_by values, "|"-separated).
	Key string `json:"key"`
	// Last is the latest event time that updated the key.
	Last int64 `json:"last"`
	// Times are the event times of the latest matching events (threshold).
	Times []int64 `json:"times,omitempty"`
	// Values and VTimes are the distinct value hashes and their latest
	// event times (distinct).
	Values []uint64 `json:"values,omitempty"`
	VTimes []int64  `json:"vtimes,omitempty"`
	// Step, Count and Start are the sequence position: the step waited
	// for, the events seen of it and the time of the first step's first
	// event.
	// (int32: with own, a key stays in the 192-byte size class.)
	Step  int32 `json:"step,omitempty"`
	Count int32 `json:"count,omitempty"`
	Start int64 `json:"start,omitempty"`
	// Events are the ids of the latest contributing events.
	Events []string `json:"events,omitempty"`
	// SuppressUntil is the end of the dedup window after the last alert.
	SuppressUntil int64 `json:"suppress_until,omitempty"`
	// Fired is the Last value an absence alert was raised (or suppressed)
	// for: a key alerts once per silence.
	Fired int64 `json:"fired,omitempty"`
	// Expected is the latest expected event of an absence key (without its
	// raw text), described in the alert when it goes silent.
	Expected *event.Event `json:"expected,omitempty"`
	// Seq is the input position (stream sequence) of the last message that
	// updated the key: a replayed message at or before it is not applied
	// again.
	Seq uint64 `json:"seq,omitempty"`

	lastEvent string // the event that last advanced a sequence
	// own is the key's copy of its expected event. Expected is own, or
	// (Expected != own) an event of the batch being applied: borrowed
	// until the batch ends (see settle).
	own *event.Event
}

// borrowed reports whether Expected points into the batch being applied.
func (s *keyState) borrowed() bool { return s.Expected != nil && s.Expected != s.own }

// ruleWindows is the state of one stateful rule.
type ruleWindows struct {
	rule *rule.Rule
	max  int
	keys map[partKey]*keyState
}

// fired is an alert raised by a stateful rule, before it is described.
type fired struct {
	rule   *rule.Rule
	ev     *event.Event
	id     string
	at     time.Time
	events []string
}

// windows holds the state of every stateful rule and the per-partition
// watermarks. It is not safe for concurrent use (the Engine serialises).
type windows struct {
	lateness time.Duration
	maxKeys  int
	metrics  *Metrics
	// wm is the highest event time seen per site (Unix nanoseconds); the
	// watermark of a site is wm minus the allowed lateness.
	wm    map[string]int64
	rules map[string]*ruleWindows
	// maint is the latest maintenance state reported for a destination
	// (asset id and address) per site, for absence suppression.
	maint map[maintKey]bool
	// due is, per site, a lower bound of the earliest deadline of its
	// absence keys not yet alerted (math.MaxInt64: none); a site without
	// an entry is scanned. silent skips the scan while the watermark has
	// not passed it, so it can run after every event.
	due map[string]int64
	// seq is the input position of the batch being applied (0: unknown)
	// and touched the keys it updated so far (by state: a key's state is
	// replaced only when the key is removed).
	seq     uint64
	touched map[*keyState]struct{}
	// dirty and deleted are the keys changed and removed since the last
	// checkpoint; dirtySites the sites whose watermark moved.
	dirty      map[stateRef]struct{}
	deleted    map[stateRef]struct{}
	dirtySites map[string]struct{}
	// borrowed are the absence keys whose Expected points into the batch
	// being applied.
	borrowed []*keyState
	// names are the site names of the state, each the windows' own copy
	// (see site).
	names map[string]string
	// fresh counts, per threshold and distinct key, the event ids added
	// to its Events during the batch being applied: they are the batch's
	// strings until settle copies them (a copy per hit cost more than one
	// per key and batch: a key keeps its last maxEventIDs ids only).
	fresh map[*keyState]int
}

type maintKey struct{ site, target string }

// keyTexter renders the readable key of a new state: a fixed text, or the
// hit's key expressions evaluated by a matcher (only when a key is created,
// so the hot path does not build strings).
type keyTexter struct {
	fixed string
	m     *rule.Matcher
	hit   *rule.Hit
	ev    *event.Event
}

// text returns the key's own copy of its readable key (the rule's values
// may be the event's strings, which do not outlive the batch).
func (k keyTexter) text() string {
	if k.m == nil {
		return strings.Clone(k.fixed)
	}
	return strings.Clone(k.m.KeyText(k.hit.Rule, k.hit.Step, k.ev))
}

// stateRef names the state of one key of one rule.
type stateRef struct {
	rule string
	pk   partKey
}

func newWindows(set *rule.Set, lateness time.Duration, maxKeys int, m *Metrics) *windows {
	w := &windows{lateness: lateness, maxKeys: maxKeys, metrics: m, wm: map[string]int64{}, rules: map[string]*ruleWindows{}, maint: map[maintKey]bool{}, due: map[string]int64{},
		dirty: map[stateRef]struct{}{}, deleted: map[stateRef]struct{}{}, dirtySites: map[string]struct{}{}, touched: map[*keyState]struct{}{}, names: map[string]string{}, fresh: map[*keyState]int{}}
	for _, r := range set.Enabled() {
		if r.Kind == rule.KindMatch && r.Suppress == 0 {
			continue
		}
		max := r.MaxKeys
		if max <= 0 {
			max = maxKeys
		}
		w.rules[r.ID] = &ruleWindows{rule: r, max: max, keys: map[partKey]*keyState{}}
	}
	return w
}

// site returns the windows' own copy of the site name s, to be used
// instead of an event's Site in anything the state keeps: the event's
// string may point into its input message (event.UnmarshalEventsShared),
// and storing a map entry stores its key again, even when the entry
// exists. One copy per site is kept (as many as watermarks).
func (w *windows) site(s string) string {
	if c, ok := w.names[s]; ok {
		return c
	}
	c := strings.Clone(s)
	w.names[c] = c
	return c
}

// begin starts applying the batch at input position seq (0: unknown, no
// replay detection).
func (w *windows) begin(seq uint64) {
	w.seq = seq
	clear(w.touched)
}

// settle ends a batch: the absence keys that point at its events get
// their own copy of the last one (without its raw text, see ownEvent),
// since the caller's events and their strings do not outlive the batch.
// (A checkpoint copies the struct, so own is reused; its strings, slices
// and map are new.)
func (w *windows) settle() {
	for st, n := range w.fresh {
		for i := max(len(st.Events)-n, 0); i < len(st.Events); i++ {
			st.Events[i] = strings.Clone(st.Events[i])
		}
	}
	clear(w.fresh)
	for _, st := range w.borrowed {
		if st.own == nil {
			st.own = new(event.Event)
		}
		ownEvent(st.own, st.Expected)
		st.Expected = st.own
		st.Events = append(st.Events[:0], st.own.ID)
	}
	clear(w.borrowed)
	w.borrowed = w.borrowed[:0]
}

// hasAbsence reports whether any absence rule is loaded.
func (w *windows) hasAbsence() bool {
	for _, rw := range w.rules {
		if rw.rule.Kind == rule.KindAbsence {
			return true
		}
	}
	return false
}

// observe advances the watermark of ev's site (site, as returned by
// w.site) with ev and reports whether ev is on time: not older than the
// watermark (highest time minus lateness).
func (w *windows) observe(site string, ev *event.Event) bool {
	t := ev.Time.UnixNano()
	hi, ok := w.wm[site]
	if !ok || t > hi {
		w.wm[site] = t
		w.dirtySites[site] = struct{}{}
		return true
	}
	return t >= hi-int64(w.lateness)
}

// watermark returns the site's watermark (Unix nanoseconds).
func (w *windows) watermark(site string) int64 { return w.wm[site] - int64(w.lateness) }

// noteMaint records the maintenance state ev (of site, see w.site) reports
// for its destination.
func (w *windows) noteMaint(site string, ev *event.Event) {
	for _, t := range [...]string{ev.Dst.AssetID, ev.DstIP} {
		if t == "" {
			continue
		}
		k := maintKey{site, t}
		if ev.Maint.Active == w.maint[k] {
			continue
		}
		w.dirtySites[site] = struct{}{}
		if ev.Maint.Active {
			w.maint[maintKey{site, strings.Clone(t)}] = true
		} else {
			delete(w.maint, k)
		}
	}
}

// span is how long a key's state matters after its last update.
func span(r *rule.Rule) time.Duration {
	d := r.Suppress
	switch r.Kind {
	case rule.KindThreshold, rule.KindDistinct:
		d = max(d, r.Window)
	case rule.KindSequence:
		d = max(d, r.Within)
	}
	return d
}

// state returns the key's state, creating it when create is set (evicting
// when the rule is at its bound); nil when absent and not created, or when
// the batch is a replay the key's state already contains. A key updated
// earlier in the batch is returned at once: it passed the replay check,
// and it is marked dirty and not deleted already (a checkpoint is taken
// between batches; a key removed since has a new state). Most hits of a
// batch are for keys it updated before, which then cost one look-up by
// pointer instead of four by rule id and key.
func (w *windows) state(rw *ruleWindows, pk partKey, create bool, keyText keyTexter) *keyState {
	st, ok := rw.keys[pk]
	if ok {
		if _, now := w.touched[st]; now {
			return st
		}
		if w.seq != 0 && st.Seq >= w.seq {
			// A replayed input the key's state already contains.
			return nil
		}
	} else {
		if !create {
			return nil
		}
		if len(rw.keys) >= rw.max {
			w.evict(rw)
		}
		st = &keyState{Key: keyText.text()}
		rw.keys[pk] = st
		w.metrics.LiveKeys.WithLabelValues(rw.rule.ID).Set(float64(len(rw.keys)))
	}
	if w.seq != 0 {
		st.Seq = w.seq
	}
	w.touched[st] = struct{}{}
	ref := stateRef{rw.rule.ID, pk}
	w.dirty[ref] = struct{}{}
	delete(w.deleted, ref)
	return st
}

// remove deletes a key's state and records the deletion for the next
// checkpoint.
func (w *windows) remove(rw *ruleWindows, pk partKey) {
	delete(rw.keys, pk)
	ref := stateRef{rw.rule.ID, pk}
	delete(w.dirty, ref)
	w.deleted[ref] = struct{}{}
}

// evict makes room in a full rule: expired keys go first (their state no
// longer matters); if none expired, an arbitrary hundredth of the keys is
// evicted and counted.
func (w *windows) evict(rw *ruleWindows) {
	sp := int64(span(rw.rule))
	for pk, st := range rw.keys {
		if rw.rule.Kind != rule.KindAbsence && st.Last < w.watermark(pk.site)-sp {
			w.remove(rw, pk)
		}
	}
	if len(rw.keys) < rw.max {
		return
	}
	n := rw.max/100 + 1
	for pk := range rw.keys {
		if n == 0 {
			break
		}
		w.remove(rw, pk)
		n--
		w.metrics.Evictions.WithLabelValues(rw.rule.ID).Inc()
	}
}

// suppressed reports (and counts) whether an alert at t for st falls in
// the key's dedup window; otherwise it opens the window.
func (w *windows) suppressed(rw *ruleWindows, st *keyState, t int64) bool {
	if t < st.SuppressUntil {
		w.metrics.Suppressed.WithLabelValues(rw.rule.ID).Inc()
		return true
	}
	st.SuppressUntil = t + int64(rw.rule.Suppress)
	return false
}

// addEvent appends the event id id to the ids of a key's state, dropping
// the oldest beyond maxEventIDs; an id of the batch being applied must be
// counted in windows.fresh (or be the state's own copy).
func addEvent(ids []string, id string) []string {
	if len(ids) >= maxEventIDs {
		copy(ids, ids[1:])
		ids = ids[:len(ids)-1]
	}
	return append(ids, id)
}

// matchSuppressed applies the dedup window of a match rule with suppress
// set, keyed by the incident key; it reports whether to drop the alert.
// site is ev's site as returned by w.site.
func (w *windows) matchSuppressed(r *rule.Rule, site string, ev *event.Event, incidentKey string) bool {
	rw := w.rules[r.ID]
	if rw == nil {
		return false
	}
	pk := partKey{site, hashKey(incidentKey)}
	st := w.state(rw, pk, true, keyTexter{fixed: incidentKey})
	if st == nil {
		return true // replayed: the alert was raised (or suppressed) before
	}
	t := ev.Time.UnixNano()
	st.Last = max(st.Last, t)
	return w.suppressed(rw, st, t)
}

// apply feeds one hit of a stateful rule for ev (of site, as returned by
// w.site) into its state and returns the alert it raises, if any. keyText
// renders the hit's key.
func (w *windows) apply(h rule.Hit, site string, ev *event.Event, keyText keyTexter) *fired {
	rw := w.rules[h.Rule.ID]
	if rw == nil {
		return nil
	}
	r := rw.rule
	pk := partKey{site, h.Key}
	t := ev.Time.UnixNano()
	switch r.Kind {
	case rule.KindThreshold:
		st := w.state(rw, pk, true, keyText)
		if st == nil {
			return nil
		}
		st.Last = max(st.Last, t)
		i, _ := slices.BinarySearch(st.Times, t)
		st.Times = slices.Insert(st.Times, i, t)
		if len(st.Times) > r.Threshold {
			st.Times = st.Times[len(st.Times)-r.Threshold:]
		}
		st.Events = addEvent(st.Events, ev.ID)
		w.fresh[st]++
		if len(st.Times) < r.Threshold || st.Times[len(st.Times)-1]-st.Times[0] > int64(r.Window) {
			return nil
		}
		events := st.Events
		st.Times, st.Events = st.Times[:0], nil
		if w.suppressed(rw, st, t) {
			return nil
		}
		return &fired{rule: r, ev: ev, id: event.NewID("alert", r.ID, ev.ID), at: ev.Time, events: events}
	case rule.KindDistinct:
		st := w.state(rw, pk, true, keyText)
		if st == nil {
			return nil
		}
		st.Last = max(st.Last, t)
		cut := st.Last - int64(r.Window)
		n := 0
		found := false
		for i := range st.Values {
			if st.VTimes[i] < cut {
				continue
			}
			if st.Values[i] == h.Value {
				st.VTimes[i] = max(st.VTimes[i], t)
				found = true
			}
			st.Values[n], st.VTimes[n] = st.Values[i], st.VTimes[i]
			n++
		}
		st.Values, st.VTimes = st.Values[:n], st.VTimes[:n]
		if !found && t >= cut {
			st.Values = append(st.Values, h.Value)
			st.VTimes = append(st.VTimes, t)
			st.Events = addEvent(st.Events, ev.ID)
			w.fresh[st]++
		}
		if len(st.Values) < r.Threshold {
			return nil
		}
		events := st.Events
		st.Values, st.VTimes, st.Events = st.Values[:0], st.VTimes[:0], nil
		if w.suppressed(rw, st, t) {
			return nil
		}
		return &fired{rule: r, ev: ev, id: event.NewID("alert", r.ID, ev.ID), at: ev.Time, events: events}
	case rule.KindSequence:
		st := w.state(rw, pk, h.Step == 0, keyText)
		if st == nil {
			return nil
		}
		if (st.Step > 0 || st.Count > 0) && t-st.Start > int64(r.Within) {
			st.Step, st.Count, st.Events = 0, 0, nil
		}
		if h.Step != int(st.Step) || st.lastEvent == ev.ID {
			return nil
		}
		st.lastEvent = strings.Clone(ev.ID)
		if st.Step == 0 && st.Count == 0 {
			st.Start = t
		}
		st.Last = max(st.Last, t)
		st.Count++
		st.Events = addEvent(st.Events, st.lastEvent)
		if int(st.Count) < r.Steps[st.Step].Count {
			return nil
		}
		st.Step, st.Count = st.Step+1, 0
		if int(st.Step) < len(r.Steps) {
			return nil
		}
		events := st.Events
		st.Step, st.Events = 0, nil
		if w.suppressed(rw, st, t) {
			return nil
		}
		return &fired{rule: r, ev: ev, id: event.NewID("alert", r.ID, ev.ID), at: ev.Time, events: events}
	case rule.KindAbsence:
		st := w.state(rw, pk, true, keyText)
		if st != nil && t >= st.Last {
			st.Last = t
			// An absence key sees every expected event: it points at the
			// batch's event (and its Events at the event's id), and the
			// last one of the batch is copied when the batch ends
			// (settle), not each of them (copying an Event per heartbeat
			// was 7% of the engine's CPU).
			if !st.borrowed() {
				w.borrowed = append(w.borrowed, st)
			}
			st.Expected = ev
			st.Events = append(st.Events[:0], ev.ID)
			if d, ok := w.due[pk.site]; ok && t+int64(r.Interval) < d {
				w.due[pk.site] = t + int64(r.Interval)
			}
		}
	}
	return nil
}

// silent returns the alerts of absence keys of site whose expected event
// is overdue at the site's watermark, in key order. A key whose
// destination is in an open maintenance window is suppressed (counted).
func (w *windows) silent(site string) []*fired {
	wm := w.watermark(site)
	if d, ok := w.due[site]; ok && wm <= d {
		return nil // no key of the site is overdue
	}
	next := int64(math.MaxInt64)
	var out []*fired
	ids := make([]string, 0, len(w.rules))
	for id, rw := range w.rules {
		if rw.rule.Kind == rule.KindAbsence {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		rw := w.rules[id]
		r := rw.rule
		var due []*keyState
		var refs []stateRef
		for pk, st := range rw.keys {
			if pk.site != site || st.Fired == st.Last || st.Expected == nil {
				continue
			}
			if st.Last+int64(r.Interval) < wm {
				due = append(due, st)
				refs = append(refs, stateRef{r.ID, pk})
			} else {
				next = min(next, st.Last+int64(r.Interval))
			}
		}
		for _, ref := range refs {
			w.dirty[ref] = struct{}{}
		}
		slices.SortFunc(due, func(a, b *keyState) int { return cmp.Compare(a.Key, b.Key) })
		for _, st := range due {
			st.Fired = st.Last
			if w.maint[maintKey{site, st.Key}] {
				w.metrics.Suppressed.WithLabelValues(r.ID).Inc()
				continue
			}
			deadline := time.Unix(0, st.Last+int64(r.Interval)).UTC()
			expected := *st.Expected
			expected.Raw = ""
			out = append(out, &fired{
				rule: r, ev: &expected, at: deadline,
				id:     event.NewID("alert", r.ID, site, st.Key, deadline.Format(time.RFC3339Nano)),
				events: slices.Clone(st.Events),
			})
		}
	}
	w.due[site] = next
	return out
}

// hashKey hashes a text key (match-rule suppression by incident key).
func hashKey(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
