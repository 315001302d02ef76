package query

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// StatsFilter selects the events counted by CountEvents and TopTalkers.
// Zero values mean "no restriction".
type StatsFilter struct {
	// Site restricts to one site id.
	Site string
	// Sites, when not nil, restricts to these site ids (authorization
	// scope); an empty non-nil list matches nothing.
	Sites []string
	// Since and Until select events whose time is in [Since, Until), to the
	// second.
	Since, Until time.Time
	// Limit caps the rows returned: 0 means DefaultLimit, at most MaxLimit.
	Limit int
}

// Validate checks every field and returns InvalidParams listing all
// problems, or nil.
func (f StatsFilter) Validate() error {
	var bad InvalidParams
	if len(f.Site) > MaxTextLen || !utf8.ValidString(f.Site) {
		bad = append(bad, ParamError{"site", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad = append(bad, ParamError{"until", "must be after since"})
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		bad = append(bad, ParamError{"limit", fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// where returns the WHERE clause and arguments of f.
func (f StatsFilter) where() (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.Site != "" {
		conds = append(conds, `site = ?`)
		args = append(args, f.Site)
	}
	if f.Sites != nil {
		conds = append(conds, `has(?, site)`)
		args = append(args, f.Sites)
	}
	if !f.Since.IsZero() {
		conds = append(conds, `time >= toDateTime(?)`)
		args = append(args, f.Since.Unix())
	}
	if !f.Until.IsZero() {
		conds = append(conds, `time < toDateTime(?)`)
		args = append(args, f.Until.Unix())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (f StatsFilter) limit() int {
	if f.Limit == 0 {
		return DefaultLimit
	}
	return f.Limit
}

// EventCount is the number of events of one hour, zone and syslog severity.
type EventCount struct {
	// Hour is the start of the hour (UTC).
	Hour time.Time `json:"hour"`
	// Zone is the destination zone, or the source zone of an event without
	// one ("" when neither is known).
	Zone string `json:"zone"`
	// Severity is the syslog severity (0 emergency ... 7 debug).
	Severity int `json:"severity"`
	// Events counts distinct events.
	Events uint64 `json:"events"`
}

// countsSQL counts distinct event ids (exact even while copies of a
// re-inserted batch are not merged yet) per hour, zone and severity.
const countsSQL = `SELECT toStartOfHour(time) AS hour, if(dst_zone != '', dst_zone, src_zone) AS zone, severity, uniqExact(id) AS n
FROM events%s
GROUP BY hour, zone, severity
ORDER BY hour DESC, n DESC, zone, severity
LIMIT ?`

// CountEvents returns the event counts of f per hour, zone and severity,
// newest hour first and within an hour the largest count first, at most
// f.Limit rows (0: DefaultLimit).
func (db *DB) CountEvents(ctx context.Context, f StatsFilter) ([]EventCount, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Sites != nil && len(f.Sites) == 0 {
		return []EventCount{}, nil
	}
	where, args := f.where()
	rows, err := db.conn.Query(withDeadline(ctx), fmt.Sprintf(countsSQL, where), append(args, f.limit())...)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer rows.Close()
	out := []EventCount{}
	for rows.Next() {
		var (
			c    EventCount
			hour int64
			sev  int8
		)
		if err := rows.Scan(&hour, &c.Zone, &sev, &c.Events); err != nil {
			return nil, fmt.Errorf("count events: scan: %w", err)
		}
		c.Hour, c.Severity = time.Unix(hour, 0).UTC(), int(sev)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	return out, nil
}

// Talker is the traffic between two zones (across their conduit).
type Talker struct {
	// SrcZone and DstZone are the source and destination zone ids.
	SrcZone string `json:"src_zone"`
	DstZone string `json:"dst_zone"`
	// Conduits are the conduits that allowed some of the flows (empty when
	// none did).
	Conduits []string `json:"conduits"`
	// Events counts distinct flow events between the zones.
	Events uint64 `json:"events"`
	// Violations counts those no conduit allowed.
	Violations uint64 `json:"violations"`
	// Pairs counts the distinct source/destination IP pairs.
	Pairs uint64 `json:"pairs"`
	// First and Last are the times of the first and last event (to the
	// second).
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// talkersSQL aggregates the cross-zone flows by (source zone, destination
// zone). Counts are of distinct event ids.
const talkersSQL = `SELECT src_zone, dst_zone, groupUniqArrayIf(flow_conduit, flow_conduit != '') AS conduits,
	uniqExact(id) AS n, uniqExactIf(id, flow_allowed = 0) AS violations, uniqExact(src_ip, dst_ip) AS pairs,
	min(time) AS first, max(time) AS last
FROM events%s
GROUP BY src_zone, dst_zone
ORDER BY n DESC, violations DESC, src_zone, dst_zone
LIMIT ?`

// TopTalkers returns the zone pairs with the most cross-zone flow events in
// f, with how many of them violated the conduit model, most events first,
// at most f.Limit pairs (0: DefaultLimit).
func (db *DB) TopTalkers(ctx context.Context, f StatsFilter) ([]Talker, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Sites != nil && len(f.Sites) == 0 {
		return []Talker{}, nil
	}
	where, args := f.where()
	if where == "" {
		where = " WHERE flow_cross_zone = 1"
	} else {
		where += " AND flow_cross_zone = 1"
	}
	rows, err := db.conn.Query(withDeadline(ctx), fmt.Sprintf(talkersSQL, where), append(args, f.limit())...)
	if err != nil {
		return nil, fmt.Errorf("top talkers: %w", err)
	}
	defer rows.Close()
	out := []Talker{}
	for rows.Next() {
		var (
			tk          Talker
			first, last int64
		)
		if err := rows.Scan(&tk.SrcZone, &tk.DstZone, &tk.Conduits, &tk.Events, &tk.Violations, &tk.Pairs, &first, &last); err != nil {
			return nil, fmt.Errorf("top talkers: scan: %w", err)
		}
		tk.First, tk.Last = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
		tk.Conduits = nonNil(tk.Conduits)
		out = append(out, tk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("top talkers: %w", err)
	}
	return out, nil
}
