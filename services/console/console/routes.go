package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/shared/event"
)

// route is one authenticated API route.
type route struct {
	// method and path form the ServeMux pattern.
	method, path string
	// roles may use the route (any one of them).
	roles   []string
	handler http.HandlerFunc
}

// readRoles may use the read routes: every role, auditors included.
var readRoles = Roles

// routes lists the API routes; New registers them and Routes reports them.
func (s *Service) routes() []route {
	return []route{
		{http.MethodGet, "/api/incidents", readRoles, s.listIncidents},
		{http.MethodGet, "/api/incidents/{id}", readRoles, s.getIncidentDetail},
		{http.MethodPatch, "/api/incidents/{id}", triageRoles, s.patchIncident},
		{http.MethodPost, "/api/incidents/{id}/notes", triageRoles, s.addNote},
		{http.MethodPatch, "/api/incidents/{id}/isms", ismsRoles, s.patchISMS},
		{http.MethodGet, "/api/incidents/{id}/plans", readRoles, s.getPlans},
		{http.MethodGet, "/api/incidents/{id}/alerts", readRoles, s.incidentAlerts},
		{http.MethodGet, "/api/alerts", readRoles, s.listAlerts},
		{http.MethodPost, "/api/incidents/{id}/plans/{plan}/steps/{step}/approvals", approvalRoles, s.postApproval},
		{http.MethodGet, "/api/approvals", readRoles, s.listApprovals},
		{http.MethodGet, "/api/events", readRoles, s.searchEvents},
		{http.MethodGet, "/api/stats/events", readRoles, s.countEvents},
		{http.MethodGet, "/api/stats/talkers", readRoles, s.topTalkers},
		{http.MethodGet, "/api/sites", readRoles, s.listSites},
		{http.MethodGet, "/api/sites/{site}", readRoles, s.getSite},
		{http.MethodGet, "/api/sites/{site}/zones", readRoles, s.siteList("zones")},
		{http.MethodGet, "/api/sites/{site}/conduits", readRoles, s.siteList("conduits")},
		{http.MethodGet, "/api/sites/{site}/assets", readRoles, s.siteList("assets")},
		{http.MethodGet, "/api/sites/{site}/windows", readRoles, s.siteList("windows")},
		{http.MethodGet, "/api/openapi.json", readRoles, serveOpenAPI},
		{http.MethodGet, "/api/stream", readRoles, s.stream},
		{http.MethodGet, "/api/incidents/{id}/report", reportRoles, s.getReport},
		{http.MethodGet, "/api/reports/nis2", reportRoles, s.nis2Report},
		{http.MethodGet, "/api/reports/summary", reportRoles, s.summaryReport},
	}
}

// Routes returns the patterns ("GET /api/incidents") of every route the
// service serves, the unauthenticated /healthz and /metrics included.
func (s *Service) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return append(out, "GET /healthz", "GET /metrics")
}

// authorize wraps an API route: authentication (401), the caller's rate
// limit (429) and the route's roles (403); the handler finds the caller
// with IdentityFrom.
func (s *Service) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key, err := s.auth.Authenticate(r)
		if err != nil {
			reason := "invalid"
			if errors.Is(err, ErrNoCredentials) {
				reason = "missing"
			}
			s.metrics.authFailures.WithLabelValues(reason).Inc()
			s.log.Debug("authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			w.Header().Set("WWW-Authenticate", `Bearer realm="c981"`)
			writeProblem(w, r, http.StatusUnauthorized, "a valid bearer token is required", nil)
			return
		}
		if ok, wait := s.limits.allow(key, time.Now()); !ok {
			s.metrics.rateLimited.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeProblem(w, r, http.StatusTooManyRequests, fmt.Sprintf("rate limit of %g requests per second exceeded", s.cfg.RateLimit.PerSecond), nil)
			return
		}
		if !id.HasRole(rt.roles...) {
			s.metrics.forbidden.Inc()
			writeProblem(w, r, http.StatusForbidden, "your roles do not allow this route", nil)
			return
		}
		rt.handler(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// noQuery answers 400 when a route that takes no parameters got some.
func noQuery(s *Service, w http.ResponseWriter, r *http.Request) bool {
	if r.URL.RawQuery != "" {
		s.fail(w, r, query.InvalidParams{{Param: "query", Reason: "this route takes no query parameters"}})
		return false
	}
	return true
}

// params reads a query string with the given parameter names: unknown,
// repeated and malformed parameters are collected in bad.
type params struct {
	names  []string
	values url.Values
	bad    query.InvalidParams
}

func parseParams(rawQuery string, names []string) *params {
	p := &params{names: names}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		p.bad = append(p.bad, query.ParamError{Param: "query", Reason: "malformed query string: " + err.Error()})
		return p
	}
	p.values = values
	for k, vs := range values {
		if !slices.Contains(names, k) {
			p.bad = append(p.bad, query.ParamError{Param: k, Reason: "unknown parameter (want " + strings.Join(names, ", ") + ")"})
		} else if len(vs) > 1 {
			p.bad = append(p.bad, query.ParamError{Param: k, Reason: "given more than once"})
		}
	}
	return p
}

func (p *params) str(name string) string { return p.values.Get(name) }

func (p *params) time(name string) time.Time {
	v := p.values.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.bad = append(p.bad, query.ParamError{Param: name, Reason: "must be an RFC 3339 time such as 2026-11-26T10:00:00Z"})
		return time.Time{}
	}
	return t.UTC()
}

func (p *params) limit() int {
	v := p.values.Get("limit")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > query.MaxLimit {
		p.bad = append(p.bad, query.ParamError{Param: "limit", Reason: fmt.Sprintf("must be an integer between 1 and %d", query.MaxLimit)})
		return 0
	}
	return n
}

// err merges the filter's own validation into the collected problems and
// returns them in the documented parameter order, unknown ones last.
func (p *params) err(validate error) error {
	var invalid query.InvalidParams
	if errors.As(validate, &invalid) {
		for _, q := range invalid {
			if !slices.ContainsFunc(p.bad, func(b query.ParamError) bool { return b.Param == q.Param }) {
				p.bad = append(p.bad, q)
			}
		}
	}
	if len(p.bad) == 0 {
		return nil
	}
	rank := func(name string) int {
		if i := slices.Index(p.names, name); i >= 0 {
			return i
		}
		return len(p.names)
	}
	slices.SortStableFunc(p.bad, func(a, b query.ParamError) int {
		if c := rank(a.Param) - rank(b.Param); c != 0 {
			return c
		}
		return strings.Compare(a.Param, b.Param)
	})
	return p.bad
}

var eventParams = []string{"site", "since", "until", "zone", "asset", "ip", "user", "operation", "q", "limit", "cursor"}

// EventsResponse is the body of GET /api/events.
type EventsResponse struct {
	// Events is one page, newest first.
	Events []event.Event `json:"events"`
	// NextCursor fetches the next page; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Service) searchEvents(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r.URL.RawQuery, eventParams)
	id, _ := IdentityFrom(r.Context())
	f := query.EventFilter{
		Site: p.str("site"), Sites: id.Scope(), Since: p.time("since"), Until: p.time("until"),
		Zone: p.str("zone"), Asset: p.str("asset"), IP: p.str("ip"), User: p.str("user"),
		Operation: p.str("operation"), Text: p.str("q"), Limit: p.limit(), After: p.str("cursor"),
	}
	if err := p.err(f.Validate()); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	evs, next, err := s.db.SearchEvents(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, EventsResponse{Events: evs, NextCursor: next})
}

var statsParams = []string{"site", "since", "until", "limit"}

// EventCountsResponse is the body of GET /api/stats/events.
type EventCountsResponse struct {
	// Counts are the event counts per hour, zone and severity.
	Counts []query.EventCount `json:"counts"`
}

// TalkersResponse is the body of GET /api/stats/talkers.
type TalkersResponse struct {
	// Talkers are the zone pairs with the most cross-zone events.
	Talkers []query.Talker `json:"talkers"`
}

// statsFilter parses the parameters of the stats routes, scoped to the
// caller's sites.
func statsFilter(r *http.Request) (query.StatsFilter, error) {
	p := parseParams(r.URL.RawQuery, statsParams)
	id, _ := IdentityFrom(r.Context())
	f := query.StatsFilter{Site: p.str("site"), Sites: id.Scope(), Since: p.time("since"), Until: p.time("until"), Limit: p.limit()}
	return f, p.err(f.Validate())
}

func (s *Service) countEvents(w http.ResponseWriter, r *http.Request) {
	f, err := statsFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	counts, err := s.db.CountEvents(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, EventCountsResponse{Counts: counts})
}

func (s *Service) topTalkers(w http.ResponseWriter, r *http.Request) {
	f, err := statsFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	talkers, err := s.db.TopTalkers(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TalkersResponse{Talkers: talkers})
}

func (s *Service) getPlans(w http.ResponseWriter, r *http.Request) {
	if !noQuery(s, w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	p, err := s.db.GetPlans(ctx, r.PathValue("id"))
	if err == nil {
		if id, _ := IdentityFrom(r.Context()); !id.CanSee(p.Site) {
			err = query.ErrNotFound
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
