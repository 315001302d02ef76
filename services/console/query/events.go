package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/c981/c981/services/shared/event"
)

// EventFilter selects stored events for SearchEvents. Zero values mean "no
// restriction" (and DefaultLimit for Limit); all set fields must match.
type EventFilter struct {
	// Site restricts to one site id.
	Site string
	// Sites, when not nil, restricts to these site ids (authorization
	// scope); an empty non-nil list matches nothing.
	Sites []string
	// Since and Until select events whose time is in [Since, Until).
	Since, Until time.Time
	// Zone matches the source or the destination zone id.
	Zone string
	// Asset matches the source or the destination asset id.
	Asset string
	// IP matches the source or the destination IP address (text form).
	IP string
	// User matches the user exactly.
	User string
	// Operation matches the industrial-protocol operation exactly (read,
	// write, program_download, ...).
	Operation string
	// Text matches, case-insensitively, a substring of the raw line or of
	// the message.
	Text string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// After is the opaque cursor returned with the previous page.
	After string
}

// Validate checks every field and returns InvalidParams listing all
// problems, or nil.
func (f EventFilter) Validate() error {
	var bad InvalidParams
	for _, p := range []struct{ name, v string }{
		{"site", f.Site}, {"zone", f.Zone}, {"asset", f.Asset}, {"ip", f.IP},
		{"user", f.User}, {"operation", f.Operation}, {"q", f.Text},
	} {
		if len(p.v) > MaxTextLen || !utf8.ValidString(p.v) {
			bad = append(bad, ParamError{p.name, fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad = append(bad, ParamError{"until", "must be after since"})
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		bad = append(bad, ParamError{"limit", fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if f.After != "" {
		if _, err := DecodeEventCursor(f.After); err != nil {
			bad = append(bad, ParamError{"cursor", err.Error()})
		}
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// EventCursor is the decoded keyset position of an event page boundary: the
// sort key (time in milliseconds, then id) of the last event of the previous
// page.
type EventCursor struct {
	TimeMs int64
	ID     string
}

const eventCursorPrefix = "e1."

// Encode returns the opaque, URL-safe text form of c.
func (c EventCursor) Encode() string { return encodeKeyset(eventCursorPrefix, c.TimeMs, c.ID) }

// DecodeEventCursor parses a cursor produced by EventCursor.Encode.
func DecodeEventCursor(s string) (EventCursor, error) {
	ms, id, ok := decodeKeyset(eventCursorPrefix, s)
	if !ok {
		return EventCursor{}, errors.New("not an event cursor returned by this API")
	}
	return EventCursor{TimeMs: ms, ID: id}, nil
}

// eventSelect lists the event columns scanEvent reads.
const eventSelect = `SELECT
	id, site, time, time_ms, received_at, received_ms, source, format, transport, peer,
	host, app, proc_id, msg_id, facility, severity, message,
	kind, category, action, outcome, user,
	src_ip, dst_ip, src_port, dst_port, proto, app_proto, operation,
	fields_json, fields.key, fields.value, raw,
	src_known, src_asset, src_role, src_zone, src_zone_kind, src_purdue, src_safety,
	dst_known, dst_asset, dst_role, dst_zone, dst_zone_kind, dst_purdue, dst_sl_t, dst_criticality, dst_safety,
	flow_cross_zone, flow_allowed, flow_conduit, flow_violation,
	maint_active, maint_window, model_version
FROM events`

// WHERE conditions of SearchEvents, one per filter; each binds the
// arguments listed beside it. The time conditions repeat the bound on the
// DateTime column alone so that ClickHouse prunes day partitions and
// primary-key ranges; the millisecond expression makes it exact.
const (
	evSiteCond  = `site = ?`                                                                                                                  // site
	evSitesCond = `has(?, site)`                                                                                                              // []string sites
	evSinceCond = `time >= toDateTime(?) AND toInt64(time) * 1000 + time_ms >= ?`                                                             // sec, ms
	evUntilCond = `time <= toDateTime(?) AND toInt64(time) * 1000 + time_ms < ?`                                                              // sec, ms
	evLowCond   = `time >= toDateTime(?)`                                                                                                     // sec (search window)
	evZoneCond  = `(src_zone = ? OR dst_zone = ?)`                                                                                            // zone, zone
	evAssetCond = `(src_asset = ? OR dst_asset = ?)`                                                                                          // asset, asset
	evIPCond    = `(src_ip = ? OR dst_ip = ?)`                                                                                                // ip, ip
	evUserCond  = `user = ?`                                                                                                                  // user
	evOpCond    = `operation = ?`                                                                                                             // operation
	evTextCond  = `(positionCaseInsensitiveUTF8(raw, ?) > 0 OR positionCaseInsensitiveUTF8(message, ?) > 0)`                                  // text, text
	evKeyset    = `time <= toDateTime(?) AND (toInt64(time) * 1000 + time_ms < ? OR (toInt64(time) * 1000 + time_ms = ? AND id < toUUID(?)))` // sec, ms, ms, id
	// evKeysSQL finds the page: only the sort key columns are read for the
	// matching rows.
	evKeysSQL = `SELECT toInt64(time) * 1000 + time_ms AS t_ms, toString(id) AS sid, site FROM events`
	evOrder   = ` ORDER BY time DESC, time_ms DESC, id DESC LIMIT 1 BY id LIMIT ?` // limit
	// evRowsSQL then reads the full rows of the page, within the hours of
	// its events; PREWHERE reads the other columns only where an id
	// matches (the events of a rare text are scattered over many hours).
	evRowsSQL = eventSelect + ` PREWHERE id IN ? WHERE site = ? AND ` // ids (GroupSet), site; rangesCond follows
)

// searchWindows are the successive lower bounds SearchEvents tries, back
// from the upper bound of the page, before it searches the whole table:
// recent pages are found within a few day partitions instead of sorting the
// keys of every stored event.
var searchWindows = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 31 * 24 * time.Hour, 366 * 24 * time.Hour}

// SearchEvents returns one page of stored events matching f, newest first
// (time descending, then id descending), and the cursor of the next page
// ("" on the last page). A row stored twice (a batch re-inserted after a
// crash, before ClickHouse merged the copies) is returned once. Invalid
// filters give InvalidParams without a query.
//
// The page is found in two steps: first the sort keys (time, id) of the
// matching events, searched in widening time windows back from the page's
// upper bound (the cursor, Until or now) until a window holds a full page
// or reaches Since; then the full rows of just those events. When the
// first window does not fill the page, a Text search resolves the text's
// anchored words (textAnchors) through the text index (event_grams) to
// the older hours that can hold a match and scans only those, newest
// first, as many as the page needs (scanHours), so a rare text is found
// without reading every stored raw line; the substring condition still
// decides every match.
func (db *DB) SearchEvents(ctx context.Context, f EventFilter) ([]event.Event, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	var (
		conds []string
		args  []any
	)
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.Sites != nil && len(f.Sites) == 0 {
		return []event.Event{}, "", nil
	}
	if f.Site != "" {
		add(evSiteCond, f.Site)
	}
	if f.Sites != nil {
		add(evSitesCond, f.Sites)
	}
	if !f.Since.IsZero() {
		add(evSinceCond, f.Since.Unix(), f.Since.UnixMilli())
	}
	upper := time.Now()
	if !f.Until.IsZero() {
		// time <= the second of Until: an event in that second may be
		// earlier than Until by its milliseconds.
		add(evUntilCond, f.Until.Unix(), f.Until.UnixMilli())
		upper = f.Until
	}
	if f.Zone != "" {
		add(evZoneCond, f.Zone, f.Zone)
	}
	if f.Asset != "" {
		add(evAssetCond, f.Asset, f.Asset)
	}
	if f.IP != "" {
		add(evIPCond, f.IP, f.IP)
	}
	if f.User != "" {
		add(evUserCond, f.User)
	}
	if f.Operation != "" {
		add(evOpCond, f.Operation)
	}
	if f.Text != "" {
		add(evTextCond, f.Text, f.Text)
	}
	ctx = withDeadline(ctx)
	if f.After != "" {
		c, err := DecodeEventCursor(f.After)
		if err != nil {
			return nil, "", InvalidParams{{"cursor", err.Error()}}
		}
		add(evKeyset, c.TimeMs/1000, c.TimeMs, c.TimeMs, c.ID)
		upper = time.UnixMilli(c.TimeMs)
	}

	var keys []eventKey
	for i := 0; i <= len(searchWindows); i++ {
		wconds, wargs := conds, args
		last := i == len(searchWindows)
		var low time.Time
		if !last {
			low = upper.Add(-searchWindows[i])
			if !f.Since.IsZero() && !low.After(f.Since) {
				last = true // the window covers Since: it is the last one
			} else {
				wconds = append(slices.Clip(conds), evLowCond)
				wargs = append(slices.Clip(args), low.Unix())
			}
		}
		var err error
		keys, err = db.eventKeys(ctx, wconds, wargs, limit+1)
		if err != nil {
			return nil, "", err
		}
		if len(keys) > limit || last {
			break
		}
		if i == 0 && f.Text != "" {
			// The text is not common enough to fill a page within the
			// first window: the text index lists the older hours that
			// can hold a match, scanned newest first.
			hours, ok, err := db.textHours(ctx, f, low.Unix())
			if err != nil {
				return nil, "", err
			}
			if ok {
				more, err := db.scanHours(ctx, conds, args, hours, low.Unix(), limit+1-len(keys))
				if err != nil {
					return nil, "", err
				}
				keys = append(keys, more...)
				break
			}
		}
	}
	if len(keys) == 0 {
		return []event.Event{}, "", nil
	}
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = EventCursor{TimeMs: keys[limit-1].ms, ID: keys[limit-1].id}.Encode()
	}
	out, err := db.eventRows(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// The text-search index: event_grams (migration 0008, written by the
// store's writer) holds one row per (key, site, hour) in which a key of an
// event's text occurs, with n, at least the number of the hour's events
// that hold the key (a hint: see textHours). Tokens are the maximal runs
// of ASCII letters and digits of the raw line and the message, lowercased;
// every other byte separates them. Every token gives a head key, its first min(4, length) bytes
// (zero-padded, with gramHead set), and, when it has at least 4 bytes,
// every 4-byte substring (a 4-gram); keys pack their bytes big-endian.
const (
	// gramHead marks a head key.
	gramHead uint32 = 1 << 31
	// gramLen is the length of the n-grams.
	gramLen = 4
	// maxAnchors bounds the anchors of one search (the longest are used:
	// usually the rarest).
	maxAnchors = 3
	// maxGramConds bounds the keys (or head ranges) one lookup requires
	// of an hour.
	maxGramConds = 16
	// maxScanRanges bounds the time ranges of one scan of candidate
	// hours: a batch of hours scattered over more ranges is scanned as
	// the one range that spans them.
	maxScanRanges = 64
	// minPrefixLen is the shortest prefix anchor worth a lookup: a
	// shorter one ("1") spans a large part of the index.
	minPrefixLen = 3
)

// anchor is a word of a search text that every matching event must hold as
// a token (exact), as the start of a token (prefix) or anywhere inside a
// token (infix).
type anchor struct {
	token  string
	prefix bool
	infix  bool
}

// minInfixLen is the shortest infix anchor: a word inside a token is
// found through its 4-grams.
const minInfixLen = gramLen

func isTokenByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isSeparator reports whether c separates tokens both in the index and in
// a case-insensitive match: ASCII that is not a letter or a digit. A
// non-ASCII byte also separates index tokens, but Unicode case folding
// might match it to an ASCII letter, so it does not anchor a word.
func isSeparator(c byte) bool { return c < 0x80 && !isTokenByte(c) }

// textAnchors returns the words of a search text that the index can
// resolve without changing the substring semantics of EventFilter.Text: a
// word preceded by a separator within the text starts a token of every
// event containing the text; if a separator also follows it, it is the
// whole token. The first word (it may continue a longer token to its left),
// a word after a non-ASCII character and a prefix shorter than
// minPrefixLen are not anchors.
func textAnchors(text string) []anchor {
	q := []byte(text)
	for i, c := range q {
		if c >= 'A' && c <= 'Z' {
			q[i] = c + 'a' - 'A' // ASCII only, as the index's lowercasing
		}
	}
	var out []anchor
	for i := 0; i < len(q); {
		if !isTokenByte(q[i]) {
			i++
			continue
		}
		j := i
		for j < len(q) && isTokenByte(q[j]) {
			j++
		}
		if i > 0 && isSeparator(q[i-1]) {
			// Followed by a separator: the whole token; by the end of
			// the text or a non-ASCII byte: the start of one.
			a := anchor{token: string(q[i:j]), prefix: j == len(q) || !isSeparator(q[j])}
			if (!a.prefix || len(a.token) >= minPrefixLen) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		i = j
	}
	if len(out) == 0 {
		// No word is preceded by a separator (a single word, or a text
		// that starts with its only long word): the leading word lies
		// inside some token of every matching event.
		j := 0
		for j < len(q) && isTokenByte(q[j]) {
			j++
		}
		if j >= minInfixLen && (j == len(q) || q[j] < 0x80) {
			out = append(out, anchor{token: string(q[:j]), infix: true})
		}
	}
	slices.SortStableFunc(out, func(a, b anchor) int { return len(b.token) - len(a.token) })
	return out[:min(len(out), maxAnchors)]
}

// gramCond is a condition on the keys of an hour: some key in [lo, hi).
type gramCond struct{ lo, hi uint32 }

// packGram packs up to 4 bytes big-endian, zero-padded.
func packGram(s string) uint32 {
	var k uint32
	for i := range gramLen {
		k <<= 8
		if i < len(s) {
			k |= uint32(s[i])
		}
	}
	return k
}

// gramConds returns what an hour's keys must hold for a token of it to
// match the anchors: for an infix word every 4-gram of it; for a prefix or
// an exact word the head of its first 4 bytes and its 4-grams; for a
// shorter exact word its head key (a short token); for a shorter prefix
// the range of heads that start with it. Repeats are dropped, heads come
// first (the most selective), and at most maxGramConds are kept: fewer
// conditions only let more hours through.
func gramConds(anchors []anchor) []gramCond {
	var heads, grams []gramCond
	add := func(list *[]gramCond, c gramCond) {
		if !slices.Contains(heads, c) && !slices.Contains(grams, c) {
			*list = append(*list, c)
		}
	}
	for _, a := range anchors {
		w := a.token
		if !a.infix {
			h := packGram(w) | gramHead
			if a.prefix && len(w) < gramLen {
				add(&heads, gramCond{h, h + 1<<(8*(gramLen-len(w)))})
			} else {
				add(&heads, gramCond{h, h + 1})
			}
		}
		for i := 0; i+gramLen <= len(w); i++ {
			g := packGram(w[i : i+gramLen])
			add(&grams, gramCond{g, g + 1})
		}
	}
	return append(heads, grams...)[:min(len(heads)+len(grams), maxGramConds)]
}

// sql returns the condition on the gram column.
func (c gramCond) sql() (string, []any) {
	if c.hi == c.lo+1 {
		return `gram = ?`, []any{c.lo}
	}
	return `(gram >= ? AND gram < ?)`, []any{c.lo, c.hi}
}

// candHour is an hour (Unix seconds of its start) that can hold events
// matching a text, with an upper bound of their number (0: unknown).
type candHour struct{ start, bound int64 }

// textHours resolves f.Text's anchors through event_grams to the hours that
// can hold a match (in f's sites and time bounds, and starting before the
// Unix second below), newest first: the hours in which some site holds
// every key condition (gramConds) of the anchors. ok is false when the
// index cannot narrow the search (the text has no anchor).
//
// The bound of an hour is the sum over its sites of the least count (sum
// of n) among the conditions: every matching event holds a key of each.
// The counts are a hint (the store writes count deltas periodically, a
// re-inserted batch counts twice): a bound that is too high or too low only
// changes how many hours scanHours takes per query, never which events
// match.
func (db *DB) textHours(ctx context.Context, f EventFilter, below int64) (hours []candHour, ok bool, err error) {
	conds := gramConds(textAnchors(f.Text))
	if len(conds) == 0 {
		return nil, false, nil
	}
	var (
		sums, where []string
		sumArgs     []any
		whereArgs   []any
	)
	for _, c := range conds {
		cs, a := c.sql()
		sums = append(sums, `sumIf(n, `+cs+`)`)
		sumArgs = append(sumArgs, a...)
		where = append(where, cs)
		whereArgs = append(whereArgs, a...)
	}
	var sql strings.Builder
	sql.WriteString(`SELECT hour, sum(b) FROM (SELECT hour, arrayReduce('min', [` + strings.Join(sums, ", ") + `]) AS b FROM event_grams WHERE (` + strings.Join(where, " OR ") + `)`)
	args := append(sumArgs, whereArgs...)
	if f.Site != "" {
		sql.WriteString(` AND site = ?`)
		args = append(args, f.Site)
	}
	if f.Sites != nil {
		sql.WriteString(` AND has(?, site)`)
		args = append(args, f.Sites)
	}
	if !f.Since.IsZero() {
		sql.WriteString(` AND hour > toDateTime(?)`)
		args = append(args, f.Since.Unix()-3600)
	}
	// Every condition holds in the (site, hour): each key's rows have
	// n >= 1.
	sql.WriteString(` AND hour < toDateTime(?) GROUP BY site, hour HAVING b > 0) GROUP BY hour`)
	args = append(args, below)
	hours, err = db.tokenHours(ctx, sql.String(), args)
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(hours, func(a, b candHour) int { return cmp.Compare(b.start, a.start) })
	return hours, true, nil
}

// tokenHours runs one text index lookup and returns the hours and bounds
// it lists.
func (db *DB) tokenHours(ctx context.Context, sql string, args []any) ([]candHour, error) {
	rows, err := db.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search events: text index: %w", err)
	}
	defer rows.Close()
	var hours []candHour
	for rows.Next() {
		var (
			h time.Time
			n uint64
		)
		if err := rows.Scan(&h, &n); err != nil {
			return nil, fmt.Errorf("search events: text index: scan: %w", err)
		}
		hours = append(hours, candHour{start: h.Unix(), bound: int64(n)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search events: text index: %w", err)
	}
	return hours, nil
}

// scanHours finds the sort keys of up to need events matching conds in the
// candidate hours (newest first), before the Unix second below. It scans
// the hours in batches, newest first, and stops once the page is full: a
// batch takes the hours whose bounds add up to the events still needed
// (when the index bounds them), and at least as many hours as all batches
// before it together (at least one), so the hours scanned are at most
// twice those needed, whether a bound overestimates or is missing.
func (db *DB) scanHours(ctx context.Context, conds []string, args []any, hours []candHour, below int64, need int) ([]eventKey, error) {
	var out []eventKey
	scanned := 0
	for len(hours) > 0 && len(out) < need {
		want := need - len(out)
		n := batchHours(hours, scanned, want)
		cond, rargs := rangesCond(hourRanges(hours[:n], below))
		keys, err := db.eventKeys(ctx, append(slices.Clip(conds), cond), append(slices.Clip(args), rargs...), want)
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
		hours, scanned = hours[n:], scanned+n
	}
	return out, nil
}

// batchHours returns how many of the candidate hours (newest first) the
// next batch of scanHours takes: at least max(1, scanned), and, when the
// index bounds the hours' matches, as many as the want events need.
func batchHours(hours []candHour, scanned, want int) int {
	n, sum := 0, int64(0)
	bounded := len(hours) > 0 && hours[0].bound > 0
	for n < len(hours) && (n < max(1, scanned) || bounded && sum < int64(want)) {
		sum += hours[n].bound
		n++
	}
	return n
}

// hourRange is [from, to) in Unix seconds.
type hourRange struct{ from, to int64 }

// hourRanges merges hours (newest first, at least one) into time ranges,
// oldest first, the newest cut at below; more than maxScanRanges become
// the one range that spans them.
func hourRanges(hours []candHour, below int64) []hourRange {
	var out []hourRange
	for i := len(hours) - 1; i >= 0; i-- {
		h := hours[i].start
		if n := len(out); n > 0 && out[n-1].to >= h {
			out[n-1].to = max(out[n-1].to, h+3600)
			continue
		}
		out = append(out, hourRange{h, h + 3600})
	}
	if len(out) == 0 {
		return nil
	}
	if len(out) > maxScanRanges {
		out = []hourRange{{out[0].from, out[len(out)-1].to}}
	}
	out[len(out)-1].to = min(out[len(out)-1].to, below)
	return out
}

// rangesCond restricts the event time to ranges; ClickHouse prunes day
// partitions and primary-key ranges with it.
func rangesCond(ranges []hourRange) (string, []any) {
	parts := make([]string, len(ranges))
	args := make([]any, 0, 2*len(ranges))
	for i, r := range ranges {
		parts[i] = `(time >= toDateTime(?) AND time < toDateTime(?))`
		args = append(args, r.from, r.to)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// eventKey is the sort key of one event of a page.
type eventKey struct {
	ms   int64
	id   string
	site string
}

// eventKeys runs the first step of SearchEvents.
func (db *DB) eventKeys(ctx context.Context, conds []string, args []any, n int) ([]eventKey, error) {
	var sql strings.Builder
	sql.WriteString(evKeysSQL)
	if len(conds) > 0 {
		sql.WriteString(" WHERE ")
		sql.WriteString(strings.Join(conds, " AND "))
	}
	sql.WriteString(evOrder)
	rows, err := db.conn.Query(ctx, sql.String(), append(slices.Clip(args), n)...)
	if err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	defer rows.Close()
	var keys []eventKey
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.ms, &k.id, &k.site); err != nil {
			return nil, fmt.Errorf("search events: scan: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search events: %w", err)
	}
	return keys, nil
}

// eventRows reads the full rows of keys, returned in the order of keys.
func (db *DB) eventRows(ctx context.Context, keys []eventKey) ([]event.Event, error) {
	bySite := map[string][]any{}
	hours := map[string][]candHour{}
	var sites []string
	for _, k := range keys {
		if _, ok := bySite[k.site]; !ok {
			sites = append(sites, k.site)
		}
		bySite[k.site] = append(bySite[k.site], k.id)
		// keys are newest first: so are the hours.
		h := time.UnixMilli(k.ms).Truncate(time.Hour).Unix()
		if hs := hours[k.site]; len(hs) == 0 || hs[len(hs)-1].start != h {
			hours[k.site] = append(hs, candHour{start: h})
		}
	}
	found := make(map[string]event.Event, len(keys))
	for _, s := range sites {
		cond, rargs := rangesCond(hourRanges(hours[s], math.MaxInt64))
		rows, err := db.conn.Query(ctx, evRowsSQL+cond+` LIMIT 1 BY id`, append([]any{clickhouse.GroupSet{Value: bySite[s]}, s}, rargs...)...)
		if err != nil {
			return nil, fmt.Errorf("search events: read rows: %w", err)
		}
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("search events: scan: %w", err)
			}
			found[e.ID] = e
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("search events: read rows: %w", err)
		}
	}
	out := make([]event.Event, 0, len(keys))
	for _, k := range keys {
		e, ok := found[k.id]
		if !ok {
			// Dropped by retention between the two steps.
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// scanner is the Scan method of driver.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanEvent reads one row of eventSelect.
func scanEvent(rows scanner) (event.Event, error) {
	var (
		e                            event.Event
		sec, recvSec                 int64
		ms, recvMs, srcPort, dstPort uint16
		facility, severity           int8
		fieldsJSON                   string
		keys, values                 []string
		srcPurdue, dstPurdue         float32
		dstSLT                       uint8
		modelVersion                 uint32
	)
	if err := rows.Scan(&e.ID, &e.Site, &sec, &ms, &recvSec, &recvMs, &e.Source, &e.Format, &e.Transport, &e.Peer,
		&e.Host, &e.App, &e.ProcID, &e.MsgID, &facility, &severity, &e.Message,
		&e.Kind, &e.Category, &e.Action, &e.Outcome, &e.User,
		&e.SrcIP, &e.DstIP, &srcPort, &dstPort, &e.Proto, &e.AppProto, &e.Operation,
		&fieldsJSON, &keys, &values, &e.Raw,
		&e.Src.Known, &e.Src.AssetID, &e.Src.Role, &e.Src.Zone, &e.Src.ZoneKind, &srcPurdue, &e.Src.Safety,
		&e.Dst.Known, &e.Dst.AssetID, &e.Dst.Role, &e.Dst.Zone, &e.Dst.ZoneKind, &dstPurdue, &dstSLT, &e.Dst.Criticality, &e.Dst.Safety,
		&e.Flow.CrossZone, &e.Flow.Allowed, &e.Flow.Conduit, &e.Flow.Violation,
		&e.Maint.Active, &e.Maint.WindowID, &modelVersion); err != nil {
		return e, err
	}
	e.Time = stamp(sec, ms)
	e.ReceivedAt = stamp(recvSec, recvMs)
	e.Facility, e.Severity = int(facility), int(severity)
	e.SrcPort, e.DstPort = int(srcPort), int(dstPort)
	var err error
	if e.Fields, err = storedFields(fieldsJSON, keys, values); err != nil {
		return e, fmt.Errorf("event %s: %w", e.ID, err)
	}
	e.Src.IP, e.Src.Purdue = e.SrcIP, purdueLevel(srcPurdue)
	e.Dst.IP, e.Dst.Purdue, e.Dst.SLT = e.DstIP, purdueLevel(dstPurdue), int(dstSLT)
	e.ModelVersion = int(modelVersion)
	return e, nil
}
