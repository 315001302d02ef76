package query

import (
	"context"
	"fmt"
	"strings"

	"github.com/c981/c981/services/shared/event"
)

// IncidentDetail is one incident in its current state with everything that
// explains it.
type IncidentDetail struct {
	// Incident is the latest version.
	Incident event.Incident `json:"incident"`
	// AlertCount is the number of alerts the incident has accumulated.
	AlertCount uint32 `json:"alert_count"`
	// Alerts assigned to the incident, oldest first (at most
	// Options.MaxAlerts). Their Src and Dst carry only the context the
	// alerts table keeps (ip, asset, role, zone, safety); Purdue is -1
	// (unknown) there; the full context is in Events.
	Alerts []event.Alert `json:"alerts"`
	// AlertsTruncated is true when more alerts exist than were returned.
	AlertsTruncated bool `json:"alerts_truncated"`
	// Events are the contributing events named by the alerts, oldest first
	// (at most Options.MaxEvents distinct ids are looked up).
	Events []event.Event `json:"events"`
	// EventsTruncated is true when the alerts name more events than were
	// looked up.
	EventsTruncated bool `json:"events_truncated"`
	// MissingEventIDs are looked-up event ids not found in storage (not yet
	// stored, or removed by retention).
	MissingEventIDs []string `json:"missing_event_ids"`
	// Plans are the response plans produced for the incident's versions,
	// oldest first, each with its steps in order.
	Plans []event.Plan `json:"plans"`
	// PlansTruncated is true when more plan steps exist than were returned.
	PlansTruncated bool `json:"plans_truncated"`
	// Triage is the people-owned state of the incident (status, assignee,
	// notes, ISMS record, change history); version 0 and status new when
	// nobody has triaged it. Incident.Status is the triage status once
	// triaged.
	Triage event.Triage `json:"triage"`
}

// maxStepRows caps the action rows (plan steps) read for one incident.
const maxStepRows = 2000

// incidentSQL reads the latest version of one incident (the detail view,
// the plans view and the incident report alike).
const incidentSQL = `SELECT
	id, version, site, key, title, toString(severity), toString(status),
	toInt64(opened_at), opened_at_ms, toInt64(first_seen), first_seen_ms, toInt64(last_seen), last_seen_ms, toInt64(updated_at),
	alert_count, alert_ids, rule_ids, techniques, assets, zones,
	target_ip, target_asset, target_role, target_zone, target_zone_kind,
	target_purdue, target_sl_t, target_criticality, target_safety, maint_active,
	risk, source_ip, source_asset, source_role, source_zone, source_zone_kind, source_purdue
FROM incidents
WHERE id = toUUID(?)
ORDER BY version DESC
LIMIT 1`

const alertsSQL = `SELECT
	id, site, time, time_ms, created_at, rule_id, rule_title, severity, techniques,
	incident_key, incident_id, event_ids, summary,
	src_ip, src_asset, src_zone, dst_ip, dst_asset, dst_role, dst_zone, dst_safety,
	fields.key, fields.value
FROM alerts
WHERE site = ? AND incident_id = toUUID(?)
ORDER BY time, time_ms, id
LIMIT 1 BY id
LIMIT ?`

const eventsSQL = eventSelect + `
WHERE site = ? AND has(?, toString(id))
ORDER BY time, time_ms, id
LIMIT 1 BY id`

// actionsSQL reads the plan steps of one incident with their latest
// decisions (the detail view, the plans view and the incident report
// alike).
const actionsSQL = `SELECT
	toString(plan_id), toString(incident_id), incident_version, site, playbook_id, playbook_title,
	toInt64(created_at), created_ms, step_index, step_id, kind, action, toString(class), audience,
	text, toString(decision), reason, approvers, automatic, quorum, timeout_s
FROM actions
WHERE site = ? AND incident_id = toUUID(?)
ORDER BY incident_version, created_at, created_ms, plan_id, step_index
LIMIT 1 BY plan_id, step_index
LIMIT ?`

// GetIncident returns the incident with id (a UUID) in its current state
// with its alerts, contributing events and response plans. It returns
// InvalidParams for a malformed id and ErrNotFound when no incident has it.
func (db *DB) GetIncident(ctx context.Context, id string) (IncidentDetail, error) {
	id = strings.ToLower(id)
	if !ValidID(id) {
		return IncidentDetail{}, InvalidParams{{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"}}
	}
	ctx = withDeadline(ctx)
	inc, count, err := db.incident(ctx, id)
	if err != nil {
		return IncidentDetail{}, err
	}
	d := IncidentDetail{Incident: inc, AlertCount: count}
	if d.Alerts, d.AlertsTruncated, err = db.alerts(ctx, inc.Site, id); err != nil {
		return IncidentDetail{}, err
	}
	ids := eventIDs(d.Alerts)
	if len(ids) > db.opts.MaxEvents {
		ids, d.EventsTruncated = ids[:db.opts.MaxEvents], true
	}
	if d.Events, err = db.events(ctx, inc.Site, ids); err != nil {
		return IncidentDetail{}, err
	}
	d.MissingEventIDs = missing(ids, d.Events)
	if d.Plans, d.PlansTruncated, err = db.plans(ctx, inc.Site, id); err != nil {
		return IncidentDetail{}, err
	}
	if d.Triage, err = db.GetTriage(ctx, inc.Site, id); err != nil {
		return IncidentDetail{}, err
	}
	if d.Triage.Version > 0 {
		d.Incident.Status = d.Triage.Status
	}
	return d, nil
}

// incident reads the latest version of the incident id and its alert
// count; ErrNotFound when no incident has it.
func (db *DB) incident(ctx context.Context, id string) (event.Incident, uint32, error) {
	rows, err := db.conn.Query(ctx, incidentSQL, id)
	if err != nil {
		return event.Incident{}, 0, fmt.Errorf("incident %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return event.Incident{}, 0, fmt.Errorf("incident %s: %w", id, err)
		}
		return event.Incident{}, 0, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	var (
		inc                                      event.Incident
		count                                    uint32
		openedSec, firstSec, lastSec, updatedSec int64
		openedMs, firstMs, lastMs                uint16
		tIP, tAsset, tRole, tZone, tKind, tCrit  string
		tPurdue, sPurdue                         float32
		tSLT, tSafety, maint, risk               uint8
		sIP, sAsset, sRole, sZone, sKind         string
	)
	if err := rows.Scan(&inc.ID, &inc.Version, &inc.Site, &inc.Key, &inc.Title, &inc.Severity, &inc.Status,
		&openedSec, &openedMs, &firstSec, &firstMs, &lastSec, &lastMs, &updatedSec,
		&count, &inc.AlertIDs, &inc.RuleIDs, &inc.Techniques, &inc.Assets, &inc.Zones,
		&tIP, &tAsset, &tRole, &tZone, &tKind, &tPurdue, &tSLT, &tCrit, &tSafety, &maint,
		&risk, &sIP, &sAsset, &sRole, &sZone, &sKind, &sPurdue); err != nil {
		return event.Incident{}, 0, fmt.Errorf("incident %s: scan: %w", id, err)
	}
	inc.OpenedAt = stamp(openedSec, openedMs)
	inc.FirstSeen = stamp(firstSec, firstMs)
	inc.LastSeen = stamp(lastSec, lastMs)
	inc.UpdatedAt = stamp(updatedSec, 0)
	inc.Target = endpoint(tIP, tAsset, tRole, tZone, tKind, tPurdue, tSLT, tCrit, tSafety != 0)
	inc.Source = endpoint(sIP, sAsset, sRole, sZone, sKind, sPurdue, 0, "", false)
	if sIP == "" && sAsset == "" {
		inc.Source = event.Endpoint{Purdue: -1}
	}
	inc.MaintActive, inc.Risk = maint != 0, int(risk)
	inc.AlertIDs, inc.RuleIDs = nonNil(inc.AlertIDs), nonNil(inc.RuleIDs)
	return inc, count, rows.Err()
}

func (db *DB) alerts(ctx context.Context, site, id string) ([]event.Alert, bool, error) {
	rows, err := db.conn.Query(ctx, alertsSQL, site, id, db.opts.MaxAlerts+1)
	if err != nil {
		return nil, false, fmt.Errorf("alerts of incident %s: %w", id, err)
	}
	defer rows.Close()
	out := []event.Alert{}
	for rows.Next() {
		var (
			a                             event.Alert
			sec, createdSec               int64
			ms                            uint16
			srcIP, srcAsset, srcZone      string
			dstIP, dstAsset, dstRole, dZn string
			dstSafety                     bool
			keys, values                  []string
		)
		if err := rows.Scan(&a.ID, &a.Site, &sec, &ms, &createdSec, &a.RuleID, &a.RuleTitle, &a.Severity, &a.Techniques,
			&a.IncidentKey, &a.IncidentID, &a.EventIDs, &a.Summary,
			&srcIP, &srcAsset, &srcZone, &dstIP, &dstAsset, &dstRole, &dZn, &dstSafety,
			&keys, &values); err != nil {
			return nil, false, fmt.Errorf("alerts of incident %s: scan: %w", id, err)
		}
		a.Time = stamp(sec, ms)
		a.CreatedAt = stamp(createdSec, 0)
		a.Src = event.Endpoint{IP: srcIP, Known: srcAsset != "", AssetID: srcAsset, Zone: srcZone, Purdue: -1}
		a.Dst = event.Endpoint{IP: dstIP, Known: dstAsset != "", AssetID: dstAsset, Role: dstRole, Zone: dZn, Purdue: -1, Safety: dstSafety}
		a.Fields = nested(keys, values)
		a.EventIDs = nonNil(a.EventIDs)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("alerts of incident %s: %w", id, err)
	}
	if len(out) > db.opts.MaxAlerts {
		return out[:db.opts.MaxAlerts], true, nil
	}
	return out, false, nil
}

// eventIDs returns the distinct well-formed event ids named by alerts, in
// order of first mention.
func eventIDs(alerts []event.Alert) []string {
	seen := map[string]bool{}
	var ids []string
	for _, a := range alerts {
		for _, id := range a.EventIDs {
			id = strings.ToLower(id)
			if ValidID(id) && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func missing(ids []string, evs []event.Event) []string {
	found := make(map[string]bool, len(evs))
	for _, e := range evs {
		found[e.ID] = true
	}
	out := []string{}
	for _, id := range ids {
		if !found[id] {
			out = append(out, id)
		}
	}
	return out
}

func (db *DB) events(ctx context.Context, site string, ids []string) ([]event.Event, error) {
	out := []event.Event{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.conn.Query(ctx, eventsSQL, site, ids)
	if err != nil {
		return nil, fmt.Errorf("events %s...: %w", ids[0], err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("events %s...: scan: %w", ids[0], err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events %s...: %w", ids[0], err)
	}
	return out, nil
}

// plans reads the response plans of the incident id of site, oldest first,
// each with its steps in order (at most maxStepRows steps in all; the bool
// is true when more exist).
func (db *DB) plans(ctx context.Context, site, id string) ([]event.Plan, bool, error) {
	rows, err := db.conn.Query(ctx, actionsSQL, site, id, maxStepRows+1)
	if err != nil {
		return nil, false, fmt.Errorf("plans of incident %s: %w", id, err)
	}
	defer rows.Close()
	out := []event.Plan{}
	index := map[string]int{}
	n := 0
	for rows.Next() {
		if n++; n > maxStepRows {
			return out, true, nil
		}
		var (
			p                  event.Plan
			s                  event.Step
			createdSec         int64
			createdMs, stepIdx uint16
			automatic, quorum  uint8
			timeout            uint32
		)
		if err := rows.Scan(&p.ID, &p.IncidentID, &p.IncidentVersion, &p.Site, &p.PlaybookID, &p.PlaybookTitle,
			&createdSec, &createdMs, &stepIdx, &s.ID, &s.Kind, &s.Action, &s.Class, &s.Audience,
			&s.Text, &s.Decision, &s.Reason, &s.Approvers, &automatic, &quorum, &timeout); err != nil {
			return nil, false, fmt.Errorf("plans of incident %s: scan: %w", id, err)
		}
		s.Index, s.Automatic, s.Quorum, s.TimeoutSeconds = int(stepIdx), automatic != 0, int(quorum), int(timeout)
		if len(s.Approvers) == 0 {
			s.Approvers = nil
		}
		i, ok := index[p.ID]
		if !ok {
			p.CreatedAt = stamp(createdSec, createdMs)
			p.Steps = []event.Step{}
			out = append(out, p)
			i = len(out) - 1
			index[p.ID] = i
		}
		out[i].Steps = append(out[i].Steps, s)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("plans of incident %s: %w", id, err)
	}
	return out, false, nil
}

// IncidentPlans are the response plans of one incident with each step's
// decision, as GetPlans returns them.
type IncidentPlans struct {
	// IncidentID is the incident's id.
	IncidentID string `json:"incident_id"`
	// Site is the incident's site (for authorization checks).
	Site string `json:"site"`
	// Plans are the response plans proposed for the incident's versions,
	// each with its steps' latest decisions.
	Plans []event.Plan `json:"plans"`
	// PlansTruncated is true when more step rows exist than were read.
	PlansTruncated bool `json:"plans_truncated"`
}

// GetPlans returns the response plans of the incident with id (a UUID),
// read from the actions table like GetIncident's plans, without its alerts
// and events. It returns InvalidParams for a malformed id and ErrNotFound
// when no incident has it.
func (db *DB) GetPlans(ctx context.Context, id string) (IncidentPlans, error) {
	id = strings.ToLower(id)
	if !ValidID(id) {
		return IncidentPlans{}, InvalidParams{{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"}}
	}
	ctx = withDeadline(ctx)
	inc, _, err := db.incident(ctx, id)
	if err != nil {
		return IncidentPlans{}, err
	}
	p := IncidentPlans{IncidentID: inc.ID, Site: inc.Site}
	if p.Plans, p.PlansTruncated, err = db.plans(ctx, inc.Site, id); err != nil {
		return IncidentPlans{}, err
	}
	return p, nil
}
