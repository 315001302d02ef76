package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/c981/c981/services/shared/event"
)

// TriageSummary is the part of an incident's triage (event.Triage) the
// incident list shows.
type TriageSummary struct {
	// Version is the number of accepted triage changes; 0 means nobody has
	// triaged the incident yet (status new, no assignee).
	Version uint64 `json:"version"`
	// Status is the effective status: the triage status once triaged, the
	// correlator's status (new) before.
	Status string `json:"status"`
	// Assignee is the user the incident is assigned to, empty if none.
	Assignee string `json:"assignee,omitempty"`
}

// listColumns is the outer select list of ListIncidents, in scan order: the
// incident columns of latestIncidentSelect with the effective status
// (e_status) in place of the correlator's, then the triage version and
// assignee.
const listColumns = `id, l_version, l_site, l_key, l_title, l_severity,
	if(t_version > 0, t_status, toString(l_status)) AS e_status,
	l_opened_at, l_opened_at_ms, l_first_seen, l_first_seen_ms, l_last_seen, l_last_seen_ms, l_updated_at, l_alert_count,
	l_rule_ids, l_techniques, l_assets, l_zones,
	l_target_ip, l_target_asset, l_target_role, l_target_zone, l_target_zone_kind, l_target_purdue, l_target_sl_t,
	l_target_criticality, l_target_safety, l_maint_active, l_risk, l_first_ms, l_last_ms,
	t_version, t_assignee`

// latestTriageSQL selects the current triage (highest version) of each
// incident from incident_triage, keyed by j_id (the incident id as text)
// for the join with the incidents; the caller appends the site WHERE and
// "GROUP BY incident_id". An incident without triage rows joins the column
// defaults (t_version 0).
const latestTriageSQL = `SELECT
	incident_id AS j_id,
	max(version) AS t_version,
	argMax(toString(status), version) AS t_status,
	argMax(assignee, version) AS t_assignee
FROM incident_triage`

// triageDocSQL reads the current triage document of one incident.
const triageDocSQL = `SELECT doc FROM incident_triage FINAL WHERE site = ? AND incident_id = ? ORDER BY version DESC LIMIT 1`

// incidentSiteSQL finds the site of an incident id.
const incidentSiteSQL = `SELECT site FROM incidents WHERE id = toUUID(?) LIMIT 1`

// GetTriage returns the current triage of the incident id of site as
// stored in ClickHouse (the store persists every revision of the console's
// triage bucket), or event.NewTriage (version 0, status new) when the
// incident was never triaged. The id must be a valid UUID (ValidID).
func (db *DB) GetTriage(ctx context.Context, site, id string) (event.Triage, error) {
	id = strings.ToLower(id)
	if !ValidID(id) {
		return event.Triage{}, InvalidParams{{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"}}
	}
	rows, err := db.conn.Query(withDeadline(ctx), triageDocSQL, site, id)
	if err != nil {
		return event.Triage{}, fmt.Errorf("triage of incident %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return event.Triage{}, fmt.Errorf("triage of incident %s: %w", id, err)
		}
		tr := event.NewTriage(id, site)
		tr.History = []event.TriageChange{}
		return tr, nil
	}
	var doc string
	if err := rows.Scan(&doc); err != nil {
		return event.Triage{}, fmt.Errorf("triage of incident %s: scan: %w", id, err)
	}
	var tr event.Triage
	if err := json.Unmarshal([]byte(doc), &tr); err != nil {
		return event.Triage{}, fmt.Errorf("triage of incident %s: stored document: %w", id, err)
	}
	return tr, rows.Err()
}

// IncidentSite returns the site of the incident id (a UUID), the only
// thing the write routes need to know before authorizing a change. It
// returns InvalidParams for a malformed id and ErrNotFound when no incident
// has it.
func (db *DB) IncidentSite(ctx context.Context, id string) (string, error) {
	id = strings.ToLower(id)
	if !ValidID(id) {
		return "", InvalidParams{{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"}}
	}
	rows, err := db.conn.Query(withDeadline(ctx), incidentSiteSQL, id)
	if err != nil {
		return "", fmt.Errorf("site of incident %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("site of incident %s: %w", id, err)
		}
		return "", fmt.Errorf("site of incident %s: %w", id, ErrNotFound)
	}
	var site string
	if err := rows.Scan(&site); err != nil {
		return "", fmt.Errorf("site of incident %s: scan: %w", id, err)
	}
	return site, rows.Err()
}
