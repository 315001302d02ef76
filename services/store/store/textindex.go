package store

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/store/chstore"
)

// The events writer builds the n-gram text-search index of migration 0008
// (event_grams) itself, instead of a materialized view on the server: for
// every batch it inserts, before acknowledging the batch, one row per key
// (chstore.AppendGrams) that this process has not yet written for the
// event's (site, hour), carrying the number of the batch's events that hold
// the key. The keys per (site, hour) saturate (at most 2 x 36^4 + 36^3 +
// 36^2 + 36), so once an hour is warm a batch adds few or no rows whatever
// the event rate. The event counts of keys already written accumulate in memory and
// are inserted as deltas every gramDeltaEvery (SummingMergeTree adds them
// up); they only bound how many hours the console scans at once, so a delta
// lost in a crash or shutdown costs scan time, never a result.
const (
	// gramHoursKept is the number of hours per site whose written keys
	// are remembered (the newest ones seen, and not more than this many
	// hours older than the newest hour of any site). An event of an older
	// hour is indexed without state: every key of its batch is written
	// again (the rows of a key collapse in the table). Each hour held
	// takes gramSpace bits (469 KB).
	gramHoursKept = 3
	// gramDeltaEvery is the period of the count-delta inserts.
	gramDeltaEvery = 10 * time.Second
)

// gramSpace is the number of dense key codes: a head flag times four
// positions of 37 values (none, 0-9, a-z).
const gramSpace = 2 * 37 * 37 * 37 * 37

// gramCode maps a byte of a key to 0 (padding), 1-10 (0-9) or 11-36 (a-z).
// The dense code of a key is its four byte codes in base 37, plus
// 37^4 for a head key (the tests' dense is this definition).
var gramCode = func() (t [256]uint32) {
	for c := '0'; c <= '9'; c++ {
		t[c] = uint32(c-'0') + 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = uint32(c-'a') + 11
	}
	return t
}()

// gramHeadBase is the dense code of the first head key: head keys take
// the codes from gramHeadBase up, 4-grams those below.
const gramHeadBase = 37 * 37 * 37 * 37

// textCode maps a byte of text to the code dense gives its token byte
// (chstore.AppendGrams lowercases A-Z), 0 for a separator.
var textCode = func() (t [256]uint32) {
	for c := '0'; c <= '9'; c++ {
		t[c] = gramCode[c]
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = gramCode[c]
		t[c-'a'+'A'] = gramCode[c]
	}
	return t
}()

// padCode scales the code of a head key's first n bytes (n = 1..3) to the
// code of the key zero-padded to 4 bytes.
var padCode = [4]uint32{0, 37 * 37 * 37, 37 * 37, 37}

// appendGramCodes appends to dst the dense codes of the keys
// chstore.AppendGrams gives for text, in the same order (dense(k) for
// each key k), computed as the text is scanned, token by token: the code
// of a token's first (up to) 4 bytes is its head key (padded if the token
// is shorter), and from there the code of its last 4 bytes is rolled
// forward byte by byte instead of building each key and then converting
// it. A token's bytes after its fourth take one tight loop (no test of the
// token's length per byte), which is where most bytes of a log line are.
func appendGramCodes(dst []uint32, text string) []uint32 {
	// A token of n bytes gives max(1, n-2) keys: at most len(text) in all.
	dst = slices.Grow(dst, len(text))
	out := dst[len(dst) : len(dst)+len(text)]
	j := 0 // keys in out
	for i := 0; i < len(text); {
		c := textCode[text[i]]
		i++
		if c == 0 {
			continue // a separator
		}
		// The token's first (up to) 4 bytes: d is their code, r their
		// byte codes (the newest in the low byte).
		d, r, n := c, c, 1
		for n < 4 && i < len(text) {
			if c = textCode[text[i]]; c == 0 {
				break
			}
			d = d*37 + c
			r = r<<8 | c
			n++
			i++
		}
		if n < 4 {
			out[j] = gramHeadBase + d*padCode[n]
			j++
			i++ // the separator that ended the token (or past the end)
			continue
		}
		out[j] = gramHeadBase + d
		out[j+1] = d
		j += 2
		// Every further byte of the token: drop the oldest of the 4
		// bytes (r>>24), add the new one.
		for i < len(text) {
			if c = textCode[text[i]]; c == 0 {
				break
			}
			d = (d-(r>>24)*(37*37*37))*37 + c
			r = r<<8 | c
			out[j] = d
			j++
			i++
		}
		i++ // the separator that ended the token (or past the end)
	}
	return dst[:len(dst)+j]
}

// codeByte maps a code of dense back to its token byte (0: padding).
var codeByte = func() (t [37]byte) {
	for c := '0'; c <= '9'; c++ {
		t[gramCode[c]] = byte(c)
	}
	for c := 'a'; c <= 'z'; c++ {
		t[gramCode[c]] = byte(c)
	}
	return t
}()

// keyOf returns the key whose dense code is d (the inverse of dense).
func keyOf(d uint32) uint32 {
	var k uint32
	if d >= gramHeadBase {
		k, d = chstore.GramHead, d-gramHeadBase
	}
	k |= uint32(codeByte[d%37])
	d /= 37
	k |= uint32(codeByte[d%37]) << 8
	d /= 37
	k |= uint32(codeByte[d%37]) << 16
	return k | uint32(codeByte[d/37])<<24
}

// gramHour is what the writer remembers of one (site, hour).
type gramHour struct {
	site string
	hour int64 // Unix seconds
	// seen has a bit per dense code: the key's row is durable.
	seen []uint64
	// delta counts the events holding seen keys, not yet inserted, by
	// dense code.
	delta map[uint32]uint64
}

func (h *gramHour) has(d uint32) bool { return h.seen[d>>6]&(1<<(d&63)) != 0 }

// gramMark is a key to remember as written once its row is durable.
type gramMark struct {
	h *gramHour
	d uint32
}

// gramCounter counts the keys of a batch's events per (site, hour), the
// CPU-heavy part of indexing: the events writer runs it in the gathering
// goroutine, while the previous batch is inserted. One goroutine uses it.
type gramCounter struct {
	// cells holds, per dense code, the stamp of the last event of the
	// current group that held the key (high 32 bits) and the number of
	// events of the group that held it (low 32 bits).
	cells   []uint64
	stamp   uint32   // of the current event; never 0
	touched []uint32 // codes with a count > 0 in cells
	codes   []uint32 // appendGramCodes scratch
	groups  map[gramGroup]int
	// gid and order are count's scratch space: the group of every event,
	// and the events' indexes ordered by group.
	gid   []int
	order []int
}

// gramBatch is what gramCounter found in one batch: per (site, hour) of its
// events, the distinct keys and the number of events holding each.
type gramBatch struct {
	groups []gramGroup
	counts [][]gramCount // per group
}

// gramCount is one key of a group, by its dense code d, and the number n
// of the group's events holding it.
type gramCount struct{ d, n uint32 }

// textIndex is the events writer's index state: the keys written per
// (site, hour) and the count deltas. The flushing goroutine uses it.
type textIndex struct {
	sites map[string][]*gramHour // newest hour first, at most gramHoursKept
	// evicted are forgotten hours whose deltas are not inserted yet.
	evicted []*gramHour

	// marks of the batch being indexed, applied by commit.
	marks      []gramMark
	deltaEvery time.Duration
	lastDelta  time.Time
}

// cellCount masks the event count of a cell.
const cellCount = 1<<32 - 1

// gramGroup is one (site, hour) of a batch.
type gramGroup struct {
	site string
	hour int64
}

// newGramCounter returns a counter (its cells take 8 x gramSpace bytes,
// 30 MB).
func newGramCounter() *gramCounter {
	return &gramCounter{cells: make([]uint64, gramSpace), groups: map[gramGroup]int{}}
}

// newTextIndex returns an empty index state whose count deltas are due
// every deltaEvery from now.
func newTextIndex(now time.Time, deltaEvery time.Duration) *textIndex {
	return &textIndex{deltaEvery: deltaEvery, sites: map[string][]*gramHour{}, lastDelta: now}
}

// hours returns the number of (site, hour) states held.
func (x *textIndex) hours() int {
	n := 0
	for _, hs := range x.sites {
		n += len(hs)
	}
	return n
}

// state returns the remembered state of (site, hour), creating it (and
// forgetting the site's oldest hour beyond gramHoursKept), or nil for an
// hour older than every one kept.
func (x *textIndex) state(site string, hour int64) *gramHour {
	hs := x.sites[site]
	i := 0
	for i < len(hs) && hs[i].hour > hour {
		i++
	}
	if i < len(hs) && hs[i].hour == hour {
		return hs[i]
	}
	if i == gramHoursKept {
		return nil
	}
	// The site outlives the batch: do not pin the message its string points
	// into (the events decoder shares the message's bytes). The map key
	// below is replaced on assignment too, so both take the held copy.
	if len(hs) > 0 {
		site = hs[0].site
	} else {
		site = strings.Clone(site)
	}
	h := &gramHour{site: site, hour: hour, seen: make([]uint64, (gramSpace+63)/64), delta: map[uint32]uint64{}}
	hs = append(hs, nil)
	copy(hs[i+1:], hs[i:])
	hs[i] = h
	if len(hs) > gramHoursKept {
		old := hs[len(hs)-1]
		if len(old.delta) > 0 {
			x.evicted = append(x.evicted, old)
		}
		hs = hs[:len(hs)-1]
	}
	x.sites[site] = hs
	return h
}

// count returns the keys of evs per (site, hour), with the number of
// events holding each.
func (c *gramCounter) count(evs []*event.Event) *gramBatch {
	clear(c.groups)
	// Group the events by (site, hour) (a counting sort of their
	// indexes, keeping their order within a group).
	gid := append(c.gid[:0], make([]int, len(evs))...)
	c.gid = gid
	gb := &gramBatch{}
	var sizes []int
	last, lastID := gramGroup{}, -1 // the previous event's group
	for i, e := range evs {
		sec := e.Time.Unix()
		g := gramGroup{site: e.Site, hour: sec - ((sec%3600)+3600)%3600}
		id := lastID
		// The events of a batch mostly come in runs of one site and
		// hour: the map is asked only when the group changes.
		if id < 0 || g != last {
			var ok bool
			if id, ok = c.groups[g]; !ok {
				id = len(gb.groups)
				c.groups[g] = id
				gb.groups = append(gb.groups, g)
				sizes = append(sizes, 0)
			}
			last, lastID = g, id
		}
		gid[i] = id
		sizes[id]++
	}
	start := 0
	for id, n := range sizes {
		sizes[id] = start
		start += n
	}
	c.order = append(c.order[:0], make([]int, len(evs))...)
	for i, id := range gid {
		c.order[sizes[id]] = i
		sizes[id]++
	}
	gb.counts = make([][]gramCount, len(gb.groups))
	cells, touched := c.cells, c.touched[:0]
	at := 0
	for id := range gb.groups {
		for at < len(c.order) && gid[c.order[at]] == id {
			e := evs[c.order[at]]
			c.stamp++
			if c.stamp == 0 {
				c.stamp = 1 // 0 is the stamp of an empty cell
			}
			c.codes = appendGramCodes(c.codes[:0], e.Raw)
			if !chstore.GramsWithin(e.Raw, e.Message) {
				// (Usually the message is a part of the raw line,
				// whose keys hold its keys.)
				c.codes = appendGramCodes(c.codes, e.Message)
			}
			touched = tally(cells, c.codes, c.stamp, touched)
			at++
		}
		counts := make([]gramCount, len(touched))
		for i, d := range touched {
			counts[i] = gramCount{d: d, n: uint32(cells[d] & cellCount)}
			cells[d] = 0
		}
		gb.counts[id] = counts
		touched = touched[:0]
	}
	c.touched = touched
	return gb
}

// tally counts the keys of one event, codes (any order, repeats
// included), in cells (see gramCounter): once each, under the event's
// stamp. It returns touched with the codes counted for the first time in
// the group appended (room for them is made first: no call in the loop).
func tally(cells []uint64, codes []uint32, stamp uint32, touched []uint32) []uint32 {
	st := uint64(stamp) << 32
	t := len(touched)
	touched = slices.Grow(touched, len(codes))[:t+len(codes)]
	for _, d := range codes {
		v := cells[d]
		last, n := uint32(v>>32), uint32(v)
		if last == stamp {
			continue // counted for this event
		}
		if n == 0 {
			touched[t] = d
			t++
		}
		cells[d] = st | uint64(n+1)
	}
	return touched[:t]
}

// rows returns the event_grams rows a counted batch needs before it is
// acknowledged: the keys not yet written for their (site, hour), with the
// number of the batch's events that hold them. The counts of keys already
// written are added to the deltas. Call commit once the rows are durable;
// without it (the insert failed) the keys are written again with the next
// batch that holds them.
func (x *textIndex) rows(gb *gramBatch) [][]any {
	x.marks = x.marks[:0]
	var rows [][]any
	var slab gramSlab
	for id, g := range gb.groups {
		h := x.state(g.site, g.hour)
		site, hour := gramGroupValues(g.site, g.hour)
		for _, kc := range gb.counts[id] {
			if h != nil && h.has(kc.d) {
				h.delta[kc.d] += uint64(kc.n)
				continue
			}
			rows = append(rows, slab.row(keyOf(kc.d), site, hour, uint64(kc.n)))
			if h != nil {
				x.marks = append(x.marks, gramMark{h, kc.d})
			}
		}
	}
	return rows
}

// gramGroupValues returns the site and hour values of the event_grams
// rows of a (site, hour) (hour in Unix seconds, a whole hour), boxed once
// for all its rows: chstore.GramRow's values.
func gramGroupValues(site string, hour int64) (any, any) {
	return site, time.Unix(hour, 0).UTC()
}

// gramSlab hands out the values of event_grams rows from larger
// allocations, one per gramSlabRows rows instead of one per row.
type gramSlab struct{ free []any }

// gramSlabRows is the number of rows one allocation of gramSlab holds.
const gramSlabRows = 256

// row returns the event_grams row of key in a group whose values
// gramGroupValues gave (site, hour): the values of chstore.GramRow(key,
// site, hour, n).
func (s *gramSlab) row(key uint32, site, hour any, n uint64) []any {
	if len(s.free) < len(chstore.GramColumns) {
		s.free = make([]any, gramSlabRows*len(chstore.GramColumns))
	}
	r := s.free[:len(chstore.GramColumns):len(chstore.GramColumns)]
	s.free = s.free[len(chstore.GramColumns):]
	r[0], r[1], r[2], r[3] = key, site, hour, n
	return r
}

// commit remembers the keys of the last batch as written.
func (x *textIndex) commit() {
	for _, m := range x.marks {
		m.h.seen[m.d>>6] |= 1 << (m.d & 63)
	}
	x.marks = x.marks[:0]
}

// deltaDue reports whether the count deltas are due at now.
func (x *textIndex) deltaDue(now time.Time) bool { return now.Sub(x.lastDelta) >= x.deltaEvery }

// deltas returns the rows of the count deltas accumulated since the last
// clearDeltas.
func (x *textIndex) deltas() [][]any {
	var rows [][]any
	var slab gramSlab
	add := func(h *gramHour) {
		site, hour := gramGroupValues(h.site, h.hour)
		for d, n := range h.delta {
			rows = append(rows, slab.row(keyOf(d), site, hour, n))
		}
	}
	for _, h := range x.evicted {
		add(h)
	}
	for _, hs := range x.sites {
		for _, h := range hs {
			add(h)
		}
	}
	return rows
}

// clearDeltas forgets the deltas (inserted, or given up) and the hours
// more than gramHoursKept older than the newest one held (a site that
// stopped sending), and restarts the period at now.
func (x *textIndex) clearDeltas(now time.Time) {
	x.evicted = nil
	newest := int64(math.MinInt64)
	for _, hs := range x.sites {
		newest = max(newest, hs[0].hour)
		for _, h := range hs {
			clear(h.delta)
		}
	}
	for site, hs := range x.sites {
		keep := 0
		for keep < len(hs) && hs[keep].hour > newest-gramHoursKept*3600 {
			keep++
		}
		if keep == 0 {
			delete(x.sites, site)
		} else {
			x.sites[site] = hs[:keep]
		}
	}
	x.lastDelta = now
}

// countGrams counts the keys of the batch's events (those ClickHouse may
// reject included: an extra key costs nothing but scan time) with counter.
func countGrams(counter *gramCounter, b *batch) *gramBatch {
	evs := make([]*event.Event, 0, len(b.rows))
	for _, r := range b.rows {
		if e, ok := r.rec.orig.(*event.Event); ok {
			evs = append(evs, e)
		}
	}
	return counter.count(evs)
}

// indexText inserts the event_grams rows of the batch's keys (counted by
// the gathering goroutine, which sets b.grams for every batch of the
// events writer) and remembers them. It returns an error only when ctx
// ends.
func (w *writer) indexText(ctx context.Context, b *batch) error {
	vals := w.idx.rows(b.grams)
	if err := w.insertGrams(ctx, vals); err != nil {
		return err
	}
	w.idx.commit()
	w.svc.m.gramKeys.WithLabelValues("new").Add(float64(len(vals)))
	w.svc.m.gramHours.Set(float64(w.idx.hours()))
	return nil
}

// flushGramDeltas inserts the accumulated count deltas. A failure (ctx
// ended) forgets them: an under-count only costs scan time.
func (w *writer) flushGramDeltas(ctx context.Context) {
	vals := w.idx.deltas()
	if err := w.insertGrams(ctx, vals); err != nil {
		w.log.Debug("text index count deltas not inserted", "rows", len(vals), "err", err)
		w.svc.m.gramErrors.Inc()
	} else {
		w.svc.m.gramKeys.WithLabelValues("count").Add(float64(len(vals)))
	}
	w.idx.clearDeltas(time.Now())
}

// insertGrams inserts event_grams rows. The rows are well-formed by
// construction; one ClickHouse rejects all the same is logged and counted
// (an event may then be found only within the newest search window).
func (w *writer) insertGrams(ctx context.Context, vals [][]any) error {
	if len(vals) == 0 {
		return nil
	}
	rows := make([]row, len(vals))
	for i := range vals {
		rows[i] = row{vals: vals[i], idx: i}
	}
	rejected, err := w.insertAll(ctx, chstore.TableEventGrams, chstore.GramColumns, rows)
	if err != nil {
		return err
	}
	for _, rj := range rejected {
		w.svc.m.gramErrors.Inc()
		w.log.Error("clickhouse rejected a text index row", "row", rj.row.vals, "err", rj.err)
	}
	return nil
}
