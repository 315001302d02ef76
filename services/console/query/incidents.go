package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/shared/event"
)

// IncidentSummary is the current state of one incident as listed by
// ListIncidents: event.Incident without the (unbounded) alert id list, with
// the alert count instead. JSON names match event.Incident.
type IncidentSummary struct {
	ID          string         `json:"id"`
	Version     uint64         `json:"version"`
	Site        string         `json:"site"`
	Key         string         `json:"key"`
	Title       string         `json:"title"`
	Severity    string         `json:"severity"`
	Status      string         `json:"status"`
	OpenedAt    time.Time      `json:"opened_at"`
	FirstSeen   time.Time      `json:"first_seen"`
	LastSeen    time.Time      `json:"last_seen"`
	UpdatedAt   time.Time      `json:"updated_at"`
	AlertCount  uint32         `json:"alert_count"`
	RuleIDs     []string       `json:"rule_ids"`
	Techniques  []string       `json:"techniques"`
	Assets      []string       `json:"assets"`
	Zones       []string       `json:"zones"`
	Target      event.Endpoint `json:"target"`
	MaintActive bool           `json:"maint_active"`
	// Risk (0-100) combines severity with the target's zone context.
	Risk uint8 `json:"risk"`
	// Triage is the people-owned state: its version (0 = never triaged),
	// status and assignee. Status above is the same effective status.
	Triage TriageSummary `json:"triage"`
}

// latestIncidentSQL selects the current (highest version) state of each
// incident. The l_ aliases keep the aggregates apart from the column names,
// which ClickHouse would otherwise resolve to the aggregate inside argMax.
const latestIncidentSQL = latestIncidentSelect + `
FROM incidents`

// latestIncidentSelect is the select list of latestIncidentSQL.
const latestIncidentSelect = `SELECT
	id,
	max(version) AS l_version,
	argMax(site, version) AS l_site,
	argMax(key, version) AS l_key,
	argMax(title, version) AS l_title,
	argMax(severity, version) AS l_severity,
	argMax(status, version) AS l_status,
	argMax(opened_at, version) AS l_opened_at,
	argMax(opened_at_ms, version) AS l_opened_at_ms,
	argMax(first_seen, version) AS l_first_seen,
	argMax(first_seen_ms, version) AS l_first_seen_ms,
	argMax(last_seen, version) AS l_last_seen,
	argMax(last_seen_ms, version) AS l_last_seen_ms,
	argMax(updated_at, version) AS l_updated_at,
	argMax(alert_count, version) AS l_alert_count,
	argMax(rule_ids, version) AS l_rule_ids,
	argMax(techniques, version) AS l_techniques,
	argMax(assets, version) AS l_assets,
	argMax(zones, version) AS l_zones,
	argMax(target_ip, version) AS l_target_ip,
	argMax(target_asset, version) AS l_target_asset,
	argMax(target_role, version) AS l_target_role,
	argMax(target_zone, version) AS l_target_zone,
	argMax(target_zone_kind, version) AS l_target_zone_kind,
	argMax(target_purdue, version) AS l_target_purdue,
	argMax(target_sl_t, version) AS l_target_sl_t,
	argMax(target_criticality, version) AS l_target_criticality,
	argMax(target_safety, version) AS l_target_safety,
	argMax(maint_active, version) AS l_maint_active,
	argMax(risk, version) AS l_risk,
	toInt64(l_first_seen) * 1000 + l_first_seen_ms AS l_first_ms,
	toInt64(l_last_seen) * 1000 + l_last_seen_ms AS l_last_ms`

// HAVING conditions of ListIncidents, one per filter; each binds the
// arguments listed beside it.
const (
	siteCond     = `site = ?`                                                                                                                                                                       // site
	sitesCond    = `has(?, site)`                                                                                                                                                                   // []string sites
	statusCond   = `has(?, e_status)`                                                                                                                                                               // []string statuses
	severityCond = `toInt8(l_severity) >= ?`                                                                                                                                                        // int8 rank
	sinceCond    = `l_last_ms >= ?`                                                                                                                                                                 // int64 ms
	untilCond    = `l_first_ms < ?`                                                                                                                                                                 // int64 ms
	keysetCond   = `(l_last_ms < ? OR (l_last_ms = ? AND id > toUUID(?)))`                                                                                                                          // ms, ms, id
	zoneCond     = `has(l_zones, ?)`                                                                                                                                                                // zone id
	assigneeCond = `t_assignee = ?`                                                                                                                                                                 // user
	textCond     = `arrayExists(x -> positionCaseInsensitiveUTF8(x, ?) > 0, arrayConcat([l_title, l_key, toString(id), l_target_asset, l_target_ip], l_assets, l_zones, l_rule_ids, l_techniques))` // text
	listOrder    = ` ORDER BY l_last_ms DESC, id ASC LIMIT ?`
)

// ListIncidents returns one page of incidents matching f in their current
// state, newest activity first (last_seen descending, then id), and the
// cursor of the next page ("" on the last page). Invalid filters give
// InvalidParams without a query.
func (db *DB) ListIncidents(ctx context.Context, f Filter) ([]IncidentSummary, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if f.Sites != nil && len(f.Sites) == 0 {
		return []IncidentSummary{}, "", nil
	}
	// The current incident versions (filtered on everything but the
	// status) are joined with the current triage of each (triage.go); the
	// status filter then applies to the effective status.
	var sql strings.Builder
	sql.WriteString("SELECT " + listColumns + " FROM (" + latestIncidentSelect + ",\n\ttoString(id) AS j_id\nFROM incidents")
	var args []any
	var where []string
	if f.Site != "" {
		where = append(where, siteCond)
		args = append(args, f.Site)
	}
	if f.Sites != nil {
		where = append(where, sitesCond)
		args = append(args, f.Sites)
	}
	siteWhere, siteArgs := "", slices.Clone(args)
	if len(where) > 0 {
		siteWhere = " WHERE " + strings.Join(where, " AND ")
		sql.WriteString(siteWhere)
	}
	sql.WriteString(" GROUP BY id")
	var having []string
	if f.Severity != "" {
		having = append(having, severityCond)
		args = append(args, int8(event.SeverityRank(f.Severity)))
	}
	if !f.Since.IsZero() {
		having = append(having, sinceCond)
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		having = append(having, untilCond)
		args = append(args, f.Until.UnixMilli())
	}
	if f.Text != "" {
		having = append(having, textCond)
		args = append(args, f.Text)
	}
	if f.Zone != "" {
		having = append(having, zoneCond)
		args = append(args, f.Zone)
	}
	if f.After != "" {
		c, err := DecodeCursor(f.After)
		if err != nil {
			return nil, "", InvalidParams{{"cursor", err.Error()}}
		}
		having = append(having, keysetCond)
		args = append(args, c.LastSeenMs, c.LastSeenMs, c.ID)
	}
	if len(having) > 0 {
		sql.WriteString(" HAVING ")
		sql.WriteString(strings.Join(having, " AND "))
	}
	sql.WriteString(") ANY LEFT JOIN (" + latestTriageSQL + siteWhere + " GROUP BY incident_id) USING j_id")
	args = append(args, siteArgs...)
	var outer []string
	if len(f.Status) > 0 {
		outer = append(outer, statusCond)
		args = append(args, f.Status)
	}
	if f.Assignee != "" {
		outer = append(outer, assigneeCond)
		args = append(args, f.Assignee)
	}
	if len(outer) > 0 {
		sql.WriteString(" WHERE " + strings.Join(outer, " AND "))
	}
	sql.WriteString(listOrder)
	args = append(args, limit+1) // one more to know whether a next page exists

	rows, err := db.conn.Query(withDeadline(ctx), sql.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := make([]IncidentSummary, 0, min(limit+1, 64))
	var lastMs []int64
	for rows.Next() {
		var (
			s                                        IncidentSummary
			openedSec, firstSec, lastSec, updatedSec int64
			openedMs, firstMs, lastMs16              uint16
			tIP, tAsset, tRole, tZone, tKind         string
			tCrit                                    string
			tPurdue                                  float32
			tSLT                                     uint8
			tSafety                                  bool
			firstAll, lastAll                        int64
			triageVersion                            uint64
			assignee                                 string
		)
		if err := rows.Scan(&s.ID, &s.Version, &s.Site, &s.Key, &s.Title, &s.Severity, &s.Status,
			&openedSec, &openedMs, &firstSec, &firstMs, &lastSec, &lastMs16, &updatedSec, &s.AlertCount,
			&s.RuleIDs, &s.Techniques, &s.Assets, &s.Zones,
			&tIP, &tAsset, &tRole, &tZone, &tKind, &tPurdue, &tSLT, &tCrit, &tSafety, &s.MaintActive, &s.Risk,
			&firstAll, &lastAll, &triageVersion, &assignee); err != nil {
			return nil, "", fmt.Errorf("list incidents: scan: %w", err)
		}
		s.OpenedAt = stamp(openedSec, openedMs)
		s.FirstSeen = stamp(firstSec, firstMs)
		s.LastSeen = stamp(lastSec, lastMs16)
		s.UpdatedAt = stamp(updatedSec, 0)
		s.Target = endpoint(tIP, tAsset, tRole, tZone, tKind, tPurdue, tSLT, tCrit, tSafety)
		s.Triage = TriageSummary{Version: triageVersion, Status: s.Status, Assignee: assignee}
		s.RuleIDs, s.Techniques, s.Assets, s.Zones = nonNil(s.RuleIDs), nonNil(s.Techniques), nonNil(s.Assets), nonNil(s.Zones)
		out = append(out, s)
		lastMs = append(lastMs, lastAll)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list incidents: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor{LastSeenMs: lastMs[limit-1], ID: out[limit-1].ID}.Encode()
	}
	return out, next, nil
}
