package console

import (
	"context"
	"net/http"

	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

var alertParams = []string{"site", "zone", "rule", "severity", "since", "until", "limit", "cursor"}

// incidentAlertParams are the parameters of GET /api/incidents/{id}/alerts
// (the site is the incident's).
var incidentAlertParams = []string{"zone", "rule", "severity", "since", "until", "limit", "cursor"}

// AlertsResponse is the body of GET /api/alerts and GET
// /api/incidents/{id}/alerts.
type AlertsResponse struct {
	// Alerts is one page, newest first.
	Alerts []event.Alert `json:"alerts"`
	// NextCursor fetches the next page; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// alertFilter parses the alert list parameters names, scoped to the
// caller's sites.
func alertFilter(r *http.Request, names []string) (query.AlertFilter, error) {
	p := parseParams(r.URL.RawQuery, names)
	id, _ := IdentityFrom(r.Context())
	f := query.AlertFilter{
		Site: p.str("site"), Sites: id.Scope(), Zone: p.str("zone"), Rule: p.str("rule"), Severity: p.str("severity"),
		Since: p.time("since"), Until: p.time("until"), Limit: p.limit(), After: p.str("cursor"),
	}
	return f, p.err(f.Validate())
}

// listAlerts serves GET /api/alerts.
func (s *Service) listAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := alertFilter(r, alertParams)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerAlerts(w, r, f)
}

// incidentAlerts serves GET /api/incidents/{id}/alerts: every alert of the
// incident, paged; another site's incident answers 404 like an unknown one.
func (s *Service) incidentAlerts(w http.ResponseWriter, r *http.Request) {
	f, err := alertFilter(r, incidentAlertParams)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	site, err := s.db.IncidentSite(ctx, r.PathValue("id"))
	if id, _ := IdentityFrom(r.Context()); err == nil && !id.CanSee(site) {
		err = query.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f.Site, f.IncidentID = site, r.PathValue("id")
	s.answerAlerts(w, r, f)
}

// answerAlerts runs f and answers the page.
func (s *Service) answerAlerts(w http.ResponseWriter, r *http.Request, f query.AlertFilter) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	alerts, next, err := s.db.ListAlerts(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AlertsResponse{Alerts: alerts, NextCursor: next})
}
