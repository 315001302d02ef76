package query

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
func (c EventCursor) Encode() string {
	return eventCursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.TimeMs, 10)+"|"+c.ID))
}

// DecodeEventCursor parses a cursor produced by EventCursor.Encode.
func DecodeEventCursor(s string) (EventCursor, error) {
	errBad := errors.New("not an event cursor returned by this API")
	if !strings.HasPrefix(s, eventCursorPrefix) || len(s) > 128 {
		return EventCursor{}, errBad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(eventCursorPrefix):])
	if err != nil {
		return EventCursor{}, errBad
	}
	ms, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return EventCursor{}, errBad
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 || !ValidID(id) {
		return EventCursor{}, errBad
	}
	return EventCursor{TimeMs: n, ID: id}, nil
}

// eventSelect lists the event columns scanEvent reads.
const eventSelect = `SELECT
	id, site, time, time_ms, received_at, received_ms, source, format, transport, peer,
	host, app, proc_id, msg_id, facility, severity, message,
	kind, category, action, outcome, user,
	src_ip, dst_ip, src_port, dst_port, proto, app_proto, operation,
	fields.key, fields.value, raw,
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
	// evRowsSQL then reads the full rows of the page, within its time range.
	evRowsSQL = eventSelect + ` WHERE site = ? AND time >= toDateTime(?) AND time <= toDateTime(?) AND has(?, toString(id)) LIMIT 1 BY id` // site, sec, sec, ids
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
// or reaches Since; then the full rows of just those events.
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
	if f.After != "" {
		c, err := DecodeEventCursor(f.After)
		if err != nil {
			return nil, "", InvalidParams{{"cursor", err.Error()}}
		}
		add(evKeyset, c.TimeMs/1000, c.TimeMs, c.TimeMs, c.ID)
		upper = time.UnixMilli(c.TimeMs)
	}
	ctx = withDeadline(ctx)

	var keys []eventKey
	for i := 0; i <= len(searchWindows); i++ {
		wconds, wargs := conds, args
		last := i == len(searchWindows)
		if !last {
			low := upper.Add(-searchWindows[i])
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
	bySite := map[string][]string{}
	var sites []string
	lo, hi := keys[0].ms, keys[0].ms
	for _, k := range keys {
		if _, ok := bySite[k.site]; !ok {
			sites = append(sites, k.site)
		}
		bySite[k.site] = append(bySite[k.site], k.id)
		lo, hi = min(lo, k.ms), max(hi, k.ms)
	}
	found := make(map[string]event.Event, len(keys))
	for _, s := range sites {
		rows, err := db.conn.Query(ctx, evRowsSQL, s, lo/1000, hi/1000, bySite[s])
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
		keys, values                 []string
		srcPurdue, dstPurdue         float32
		dstSLT                       uint8
		modelVersion                 uint32
	)
	if err := rows.Scan(&e.ID, &e.Site, &sec, &ms, &recvSec, &recvMs, &e.Source, &e.Format, &e.Transport, &e.Peer,
		&e.Host, &e.App, &e.ProcID, &e.MsgID, &facility, &severity, &e.Message,
		&e.Kind, &e.Category, &e.Action, &e.Outcome, &e.User,
		&e.SrcIP, &e.DstIP, &srcPort, &dstPort, &e.Proto, &e.AppProto, &e.Operation,
		&keys, &values, &e.Raw,
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
	e.Fields = nested(keys, values)
	e.Src.IP, e.Src.Purdue = e.SrcIP, purdueLevel(srcPurdue)
	e.Dst.IP, e.Dst.Purdue, e.Dst.SLT = e.DstIP, purdueLevel(dstPurdue), int(dstSLT)
	e.ModelVersion = int(modelVersion)
	return e, nil
}
