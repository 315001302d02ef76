package query

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/event"
)

// Report query limits.
const (
	// MaxReportIncidents bounds the incidents a period summary or NIS2
	// overview reads; a larger period is refused (choose a shorter one).
	MaxReportIncidents = 20000
	// maxAuditRows bounds the audit records read for one incident report.
	maxAuditRows = 5000
	// MaxReportPeriod is the longest period a summary may cover.
	MaxReportPeriod = 366 * 24 * time.Hour
)

// ReportData is what the report of one incident is built from, read from
// ClickHouse: report.Input without the site model and the time.
type ReportData struct {
	Incident   event.Incident
	Triage     event.Triage
	Alerts     []event.Alert
	AlertCount int
	EventIDs   []string
	Plans      []event.Plan
	Audit      []report.AuditRecord
	// AlertsTruncated and PlansTruncated are true when the caps of
	// Options (alerts) or of the step rows were reached.
	AlertsTruncated, PlansTruncated bool
}

// ReportInput returns d as a report input; the caller sets its Site
// model and Now.
func (d ReportData) ReportInput() report.Input {
	return report.Input{
		Incident: d.Incident, Triage: d.Triage, Alerts: d.Alerts, AlertCount: d.AlertCount,
		EventIDs: d.EventIDs, Plans: d.Plans, Audit: d.Audit,
	}
}

// reportAuditSQL reads the audit records of one incident in chain order;
// a record stored twice (redelivery) is read once.
const reportAuditSQL = `SELECT
	seq, hash, toInt64(time), time_ns, actor, actor_role, kind, what, why, result,
	incident_version, plan_id, step_id
FROM audit
WHERE site = ? AND incident_id = ?
ORDER BY seq, hash
LIMIT 1 BY seq, hash
LIMIT ?`

// GetReportData reads everything the report of the incident id (a UUID)
// is built from: its latest version, triage (GetTriage), alerts (at most
// Options.MaxAlerts), contributing event ids, plans with every step and
// the respond stage's audit records about it. It returns InvalidParams for
// a malformed id and ErrNotFound when no incident has it.
func (db *DB) GetReportData(ctx context.Context, id string) (ReportData, error) {
	id = strings.ToLower(id)
	if !ValidID(id) {
		return ReportData{}, InvalidParams{{"id", "must be a UUID (8-4-4-4-12 hexadecimal digits)"}}
	}
	ctx = withDeadline(ctx)
	var d ReportData
	var count uint32
	var err error
	if d.Incident, count, err = db.incident(ctx, id); err != nil {
		return ReportData{}, err
	}
	site := d.Incident.Site
	if d.Triage, err = db.GetTriage(ctx, site, id); err != nil {
		return ReportData{}, fmt.Errorf("report of incident %s: %w", id, err)
	}
	if d.Alerts, d.AlertsTruncated, err = db.alerts(ctx, site, id); err != nil {
		return ReportData{}, fmt.Errorf("report of incident %s: %w", id, err)
	}
	d.AlertCount = max(int(count), len(d.Alerts))
	d.EventIDs = eventIDs(d.Alerts)
	if d.Plans, d.PlansTruncated, err = db.plans(ctx, site, id); err != nil {
		return ReportData{}, err
	}
	if d.Audit, err = db.reportAudit(ctx, site, id); err != nil {
		return ReportData{}, err
	}
	return d, nil
}

func (db *DB) reportAudit(ctx context.Context, site, id string) ([]report.AuditRecord, error) {
	rows, err := db.conn.Query(ctx, reportAuditSQL, site, id, maxAuditRows)
	if err != nil {
		return nil, fmt.Errorf("audit records of incident %s: %w", id, err)
	}
	defer rows.Close()
	out := []report.AuditRecord{}
	for rows.Next() {
		var (
			r   report.AuditRecord
			sec int64
			ns  uint32
		)
		if err := rows.Scan(&r.Seq, &r.Hash, &sec, &ns, &r.Actor, &r.ActorRole, &r.Kind, &r.What, &r.Why, &r.Result,
			&r.IncidentVersion, &r.PlanID, &r.StepID); err != nil {
			return nil, fmt.Errorf("audit records of incident %s: scan: %w", id, err)
		}
		r.Time = time.Unix(sec, int64(ns)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit records of incident %s: %w", id, err)
	}
	return out, nil
}

// ReportFilter selects the incidents of a period summary or NIS2 overview.
type ReportFilter struct {
	// Site is the site (required for a summary; optional for the NIS2
	// overview).
	Site string
	// Sites, when not nil, restricts to these site ids (authorization
	// scope); an empty non-nil list matches nothing.
	Sites []string
	// From and To bound the period of a summary (opened_at in [From, To));
	// zero for the NIS2 overview.
	From, To time.Time
}

// ValidateSummary checks a summary filter: a site, both bounds, From
// before To, at most MaxReportPeriod.
func (f ReportFilter) ValidateSummary() error {
	var bad InvalidParams
	switch {
	case f.Site == "":
		bad = append(bad, ParamError{"site", "is required"})
	case len(f.Site) > MaxTextLen:
		bad = append(bad, ParamError{"site", fmt.Sprintf("must be at most %d bytes", MaxTextLen)})
	}
	if f.From.IsZero() {
		bad = append(bad, ParamError{"from", "is required (RFC 3339 time)"})
	}
	if f.To.IsZero() {
		bad = append(bad, ParamError{"to", "is required (RFC 3339 time)"})
	}
	if !f.From.IsZero() && !f.To.IsZero() {
		if !f.From.Before(f.To) {
			bad = append(bad, ParamError{"to", "must be after from"})
		} else if f.To.Sub(f.From) > MaxReportPeriod {
			bad = append(bad, ParamError{"to", "the period may be at most 366 days"})
		}
	}
	if len(bad) > 0 {
		return bad
	}
	return nil
}

// significantSQL selects the ids of the significant incidents (by their
// latest triage version) of the sites the caller appends conditions for.
const significantSQL = `SELECT incident_id FROM incident_triage WHERE %s GROUP BY site, incident_id HAVING argMax(significant, version) = 1`

// reportItemsSQL selects the latest state of incidents; %s is the WHERE
// condition.
const reportItemsSQL = `SELECT
	toString(id),
	max(version) AS l_version,
	argMax(site, version) AS l_site,
	argMax(title, version) AS l_title,
	toString(argMax(severity, version)) AS l_severity,
	toString(argMax(status, version)) AS l_status,
	toInt64(argMax(opened_at, version)) AS l_opened_at,
	argMax(opened_at_ms, version) AS l_opened_at_ms
FROM incidents
WHERE %s
GROUP BY id
LIMIT ?`

// triageDocsSQL reads the latest triage document of incident ids.
const triageDocsSQL = `SELECT incident_id, argMax(doc, version) FROM incident_triage WHERE site = ? AND has(?, incident_id) GROUP BY incident_id`

// SummaryItems returns the incidents of f.Site opened in [f.From, f.To)
// and the site's significant incidents (whose NIS2 deadlines may fall in
// the period), each with its current triage. f must pass ValidateSummary.
func (db *DB) SummaryItems(ctx context.Context, f ReportFilter) ([]report.Item, error) {
	if err := f.ValidateSummary(); err != nil {
		return nil, err
	}
	if f.Sites != nil && !slices.Contains(f.Sites, f.Site) {
		return []report.Item{}, nil
	}
	// opened_at is whole seconds: widen to the seconds around the period
	// (Summarize applies the exact bounds).
	from, to := f.From.UTC().Truncate(time.Second), f.To.UTC().Truncate(time.Second).Add(time.Second)
	where := `site = ? AND ((opened_at >= ? AND opened_at <= ?) OR toString(id) IN (` + fmt.Sprintf(significantSQL, "site = ?") + `))`
	return db.reportItems(withDeadline(ctx), fmt.Sprintf(reportItemsSQL, where), f.Site, from, to, f.Site)
}

// NIS2Items returns the significant incidents of the caller's scope
// (f.Sites) and, when set, of f.Site only, each with its current triage.
func (db *DB) NIS2Items(ctx context.Context, f ReportFilter) ([]report.Item, error) {
	if len(f.Site) > MaxTextLen {
		return nil, InvalidParams{{"site", fmt.Sprintf("must be at most %d bytes", MaxTextLen)}}
	}
	if f.Sites != nil && (len(f.Sites) == 0 || f.Site != "" && !slices.Contains(f.Sites, f.Site)) {
		return []report.Item{}, nil
	}
	var conds []string
	var args []any
	if f.Site != "" {
		conds = append(conds, "site = ?")
		args = append(args, f.Site)
	}
	if f.Sites != nil {
		conds = append(conds, "has(?, site)")
		args = append(args, f.Sites)
	}
	if len(conds) == 0 {
		conds = append(conds, "1")
	}
	cond := strings.Join(conds, " AND ")
	where := cond + ` AND toString(id) IN (` + fmt.Sprintf(significantSQL, cond) + `)`
	return db.reportItems(withDeadline(ctx), fmt.Sprintf(reportItemsSQL, where), slices.Concat(args, args)...)
}

// reportItems runs an incidents query (reportItemsSQL) and joins each
// incident's triage document.
func (db *DB) reportItems(ctx context.Context, sql string, args ...any) ([]report.Item, error) {
	rows, err := db.conn.Query(ctx, sql, append(args, MaxReportIncidents+1)...)
	if err != nil {
		return nil, fmt.Errorf("report incidents: %w", err)
	}
	defer rows.Close()
	items := []report.Item{}
	for rows.Next() {
		var (
			inc      event.Incident
			sec      int64
			ms       uint16
			statusID string
		)
		if err := rows.Scan(&inc.ID, &inc.Version, &inc.Site, &inc.Title, &inc.Severity, &statusID, &sec, &ms); err != nil {
			return nil, fmt.Errorf("report incidents: scan: %w", err)
		}
		inc.Status, inc.OpenedAt = statusID, stamp(sec, ms)
		items = append(items, report.Item{Incident: inc, Triage: event.NewTriage(inc.ID, inc.Site)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report incidents: %w", err)
	}
	if len(items) > MaxReportIncidents {
		return nil, InvalidParams{{"from", fmt.Sprintf("more than %d incidents match; choose a shorter period or one site", MaxReportIncidents)}}
	}
	bySite := map[string][]string{}
	for _, it := range items {
		bySite[it.Incident.Site] = append(bySite[it.Incident.Site], it.Incident.ID)
	}
	triage := map[string]event.Triage{}
	for site, ids := range bySite {
		if err := db.triageDocs(ctx, site, ids, triage); err != nil {
			return nil, err
		}
	}
	for i := range items {
		if tr, ok := triage[items[i].Incident.ID]; ok {
			items[i].Triage = tr
		}
	}
	slices.SortFunc(items, func(a, b report.Item) int { return strings.Compare(a.Incident.ID, b.Incident.ID) })
	return items, nil
}

func (db *DB) triageDocs(ctx context.Context, site string, ids []string, out map[string]event.Triage) error {
	rows, err := db.conn.Query(ctx, triageDocsSQL, site, ids)
	if err != nil {
		return fmt.Errorf("triage of %d incidents of %s: %w", len(ids), site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return fmt.Errorf("triage of %s: scan: %w", site, err)
		}
		var tr event.Triage
		if err := json.Unmarshal([]byte(doc), &tr); err != nil {
			return fmt.Errorf("triage of incident %s: stored document: %w", id, err)
		}
		out[id] = tr
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("triage of %s: %w", site, err)
	}
	return nil
}
