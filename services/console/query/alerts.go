package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/c981/c981/services/shared/event"
)

// AlertFilter selects stored alerts for ListAlerts. Zero values mean "no
// restriction" (and DefaultLimit for Limit); all set fields must match.
type AlertFilter struct {
	// Site restricts to one site id.
	Site string
	// Sites, when not nil, restricts to these site ids (authorization
	// scope); an empty non-nil list matches nothing.
	Sites []string
	// IncidentID restricts to the alerts of one incident (a UUID).
	IncidentID string
	// Zone matches the source or the destination zone id.
	Zone string
	// Rule matches the rule id exactly.
	Rule string
	// Severity is the minimum severity (event.Sev* values).
	Severity string
	// Since and Until select alerts whose time is in [Since, Until).
	Since, Until time.Time
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// After is the opaque cursor returned with the previous page.
	After string
}

// Validate checks every field and returns InvalidParams listing all
// problems, or nil.
func (f AlertFilter) Validate() error {
	var bad InvalidParams
	for _, p := range []struct{ name, v string }{{"site", f.Site}, {"zone", f.Zone}, {"rule", f.Rule}} {
		if len(p.v) > MaxTextLen || !utf8.ValidString(p.v) {
			bad = append(bad, ParamError{p.name, fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxTextLen)})
		}
	}
	if f.IncidentID != "" && !ValidID(strings.ToLower(f.IncidentID)) {
		bad = append(bad, ParamError{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"})
	}
	if f.Severity != "" && event.SeverityRank(f.Severity) < 0 {
		bad = append(bad, ParamError{"severity", fmt.Sprintf("unknown severity %q (want info, low, medium, high or critical)", f.Severity)})
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad = append(bad, ParamError{"until", "must be after since"})
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		bad = append(bad, ParamError{"limit", fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if f.After != "" {
		if _, err := DecodeAlertCursor(f.After); err != nil {
			bad = append(bad, ParamError{"cursor", err.Error()})
		}
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// AlertCursor is the decoded keyset position of an alert page boundary:
// the sort key of the last alert of the previous page (time in
// milliseconds, then id).
type AlertCursor struct {
	TimeMs int64
	ID     string
}

const alertCursorPrefix = "a1."

// Encode returns the opaque, URL-safe text form of c.
func (c AlertCursor) Encode() string { return encodeKeyset(alertCursorPrefix, c.TimeMs, c.ID) }

// DecodeAlertCursor parses a cursor produced by AlertCursor.Encode.
func DecodeAlertCursor(s string) (AlertCursor, error) {
	ms, id, ok := decodeKeyset(alertCursorPrefix, s)
	if !ok {
		return AlertCursor{}, errors.New("not a cursor returned by this API")
	}
	return AlertCursor{TimeMs: ms, ID: id}, nil
}

// alertColumns are the alert columns scanAlert reads, in order.
const alertColumns = `id, site, time, time_ms, created_at, rule_id, rule_title, severity, techniques,
	incident_key, incident_id, event_ids, summary,
	src_ip, src_asset, src_zone, dst_ip, dst_asset, dst_role, dst_zone, dst_safety,
	fields.key, fields.value`

// WHERE conditions of ListAlerts, one per filter; each binds the arguments
// listed beside it. The coarse second-precision time bounds let
// ClickHouse prune partitions and primary-key ranges; the millisecond
// bounds are exact.
const (
	alertSiteCond     = `site = ?`                                                                // site
	alertSitesCond    = `has(?, site)`                                                            // []string sites
	alertIncidentCond = `incident_id = toUUID(?)`                                                 // id
	alertZoneCond     = `(src_zone = ? OR dst_zone = ?)`                                          // zone, zone
	alertRuleCond     = `rule_id = ?`                                                             // rule
	alertSevCond      = `toInt8(severity) >= ?`                                                   // int8 rank
	alertSinceCond    = `time >= toDateTime(?) AND a_ms >= ?`                                     // unix s, ms
	alertUntilCond    = `time <= toDateTime(?) AND a_ms < ?`                                      // unix s, ms
	alertKeysetCond   = `time <= toDateTime(?) AND (a_ms < ? OR (a_ms = ? AND toString(id) > ?))` // unix s, ms, ms, id
	alertOrder        = ` ORDER BY a_ms DESC, toString(id) ASC LIMIT 1 BY id LIMIT ?`
)

// ListAlerts returns one page of stored alerts matching f, newest first
// (time descending, then the id's text), and the cursor of the next page ("" on the
// last page). A redelivered alert stored twice is listed once. Invalid
// filters give InvalidParams without a query.
func (db *DB) ListAlerts(ctx context.Context, f AlertFilter) ([]event.Alert, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if f.Sites != nil && len(f.Sites) == 0 {
		return []event.Alert{}, "", nil
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Site != "" {
		add(alertSiteCond, f.Site)
	}
	if f.Sites != nil {
		add(alertSitesCond, f.Sites)
	}
	if f.IncidentID != "" {
		add(alertIncidentCond, strings.ToLower(f.IncidentID))
	}
	if f.Zone != "" {
		add(alertZoneCond, f.Zone, f.Zone)
	}
	if f.Rule != "" {
		add(alertRuleCond, f.Rule)
	}
	if f.Severity != "" {
		add(alertSevCond, int8(event.SeverityRank(f.Severity)))
	}
	if !f.Since.IsZero() {
		add(alertSinceCond, f.Since.Unix(), f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add(alertUntilCond, f.Until.Unix(), f.Until.UnixMilli())
	}
	if f.After != "" {
		c, err := DecodeAlertCursor(f.After)
		if err != nil {
			return nil, "", InvalidParams{{"cursor", err.Error()}}
		}
		add(alertKeysetCond, c.TimeMs/1000, c.TimeMs, c.TimeMs, c.ID)
	}
	var sql strings.Builder
	sql.WriteString("SELECT " + alertColumns + ", toInt64(time) * 1000 + time_ms AS a_ms FROM alerts")
	if len(where) > 0 {
		sql.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sql.WriteString(alertOrder)
	args = append(args, limit+1) // one more to know whether a next page exists

	rows, err := db.conn.Query(withDeadline(ctx), sql.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := make([]event.Alert, 0, min(limit+1, 64))
	var lastMs []int64
	for rows.Next() {
		var ms int64
		a, err := scanAlert(rows, &ms)
		if err != nil {
			return nil, "", fmt.Errorf("list alerts: scan: %w", err)
		}
		out = append(out, a)
		lastMs = append(lastMs, ms)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = AlertCursor{TimeMs: lastMs[limit-1], ID: out[limit-1].ID}.Encode()
	}
	return out, next, nil
}

// alertScanner is the Scan of driver.Rows.
type alertScanner interface {
	Scan(dest ...any) error
}

// scanAlert reads one row of alertColumns (plus extra destinations). Src
// and Dst carry only the context the alerts table keeps (ip, asset, role,
// zone, safety); Purdue is -1 (unknown).
func scanAlert(rows alertScanner, extra ...any) (event.Alert, error) {
	var (
		a                             event.Alert
		sec, createdSec               int64
		ms                            uint16
		srcIP, srcAsset, srcZone      string
		dstIP, dstAsset, dstRole, dZn string
		dstSafety                     bool
		keys, values                  []string
	)
	dest := []any{&a.ID, &a.Site, &sec, &ms, &createdSec, &a.RuleID, &a.RuleTitle, &a.Severity, &a.Techniques,
		&a.IncidentKey, &a.IncidentID, &a.EventIDs, &a.Summary,
		&srcIP, &srcAsset, &srcZone, &dstIP, &dstAsset, &dstRole, &dZn, &dstSafety,
		&keys, &values}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		return event.Alert{}, err
	}
	a.Time = stamp(sec, ms)
	a.CreatedAt = stamp(createdSec, 0)
	a.Src = event.Endpoint{IP: srcIP, Known: srcAsset != "", AssetID: srcAsset, Zone: srcZone, Purdue: -1}
	a.Dst = event.Endpoint{IP: dstIP, Known: dstAsset != "", AssetID: dstAsset, Role: dstRole, Zone: dZn, Purdue: -1, Safety: dstSafety}
	a.Fields = nested(keys, values)
	a.EventIDs = nonNil(a.EventIDs)
	a.Techniques = nonNil(a.Techniques)
	return a, nil
}
