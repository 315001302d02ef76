package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/c981/c981/services/console/query"
)

// ListResponse is the body of GET /api/incidents.
type ListResponse struct {
	// Incidents is one page, newest activity first.
	Incidents []query.IncidentSummary `json:"incidents"`
	// NextCursor fetches the next page (as the cursor parameter); absent on
	// the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	// Type is always "about:blank": the status code says what happened.
	Type string `json:"type"`
	// Title is the HTTP status text.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence for a human.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// InvalidParams lists the offending query parameters of a 400.
	InvalidParams []query.ParamError `json:"invalid_params,omitempty"`
}

// statusClientClosed is logged and counted when the client went away before
// the answer was ready (the nginx convention).
const statusClientClosed = 499

// recorder captures the status code for metrics.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument wraps the mux: security headers, body limit, panic recovery,
// request metrics and debug access logs.
func (s *Service) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			s.metrics.inFlight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if rec.code == 0 {
					writeProblem(rec, r, http.StatusInternalServerError, "internal error; see the server log", nil)
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "unmatched"
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
			s.log.Debug("request", "method", r.Method, "route", route, "code", code, "duration", elapsed)
		}()
		h := rec.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if r.ContentLength > MaxBodyBytes {
			writeProblem(rec, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", MaxBodyBytes), nil)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		next.ServeHTTP(rec, r)
	})
}

var listParams = []string{"site", "status", "severity", "since", "until", "q", "zone", "assignee", "limit", "cursor"}

// parseFilter reads the list parameters; it reports unknown, repeated and
// malformed parameters, then the filter's own validation.
func parseFilter(rawQuery string) (query.Filter, error) {
	var f query.Filter
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, query.InvalidParams{{Param: "query", Reason: "malformed query string: " + err.Error()}}
	}
	var bad query.InvalidParams
	var unknown []string
	for k, vs := range values {
		if !slices.Contains(listParams, k) {
			unknown = append(unknown, k)
		} else if len(vs) > 1 {
			bad = append(bad, query.ParamError{Param: k, Reason: "given more than once"})
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		bad = append(bad, query.ParamError{Param: k, Reason: "unknown parameter (want " + strings.Join(listParams, ", ") + ")"})
	}
	f.Site = values.Get("site")
	if v := values.Get("status"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			f.Status = append(f.Status, strings.TrimSpace(st))
		}
	}
	f.Severity = values.Get("severity")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := values.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad = append(bad, query.ParamError{Param: p.name, Reason: "must be an RFC 3339 time such as 2026-11-26T10:00:00Z"})
				continue
			}
			*p.dst = t.UTC()
		}
	}
	f.Text = values.Get("q")
	f.Zone = values.Get("zone")
	f.Assignee = values.Get("assignee")
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > query.MaxLimit {
			bad = append(bad, query.ParamError{Param: "limit", Reason: fmt.Sprintf("must be an integer between 1 and %d", query.MaxLimit)})
		} else {
			f.Limit = n
		}
	}
	f.After = values.Get("cursor")
	var invalid query.InvalidParams
	if errors.As(f.Validate(), &invalid) {
		for _, p := range invalid {
			if !slices.ContainsFunc(bad, func(b query.ParamError) bool { return b.Param == p.Param }) {
				bad = append(bad, p)
			}
		}
	}
	if len(bad) > 0 {
		// Report in the documented parameter order, unknown ones last.
		rank := func(p string) int {
			if i := slices.Index(listParams, p); i >= 0 {
				return i
			}
			return len(listParams)
		}
		slices.SortStableFunc(bad, func(a, b query.ParamError) int {
			if c := rank(a.Param) - rank(b.Param); c != 0 {
				return c
			}
			return strings.Compare(a.Param, b.Param)
		})
		return f, bad
	}
	return f, nil
}

func (s *Service) listIncidents(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.RawQuery)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, _ := IdentityFrom(r.Context())
	f.Sites = id.Scope()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	list, next, err := s.db.ListIncidents(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ListResponse{Incidents: list, NextCursor: next})
}

// fail answers err as a problem: 400 for invalid input, 404 for an unknown
// incident, 504 when the query timed out, 500 otherwise (logged).
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var invalid query.InvalidParams
	switch {
	case errors.As(err, &invalid):
		writeProblem(w, r, http.StatusBadRequest, "invalid request parameters", invalid)
	case errors.Is(err, query.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "no incident with this id", nil)
	case r.Context().Err() != nil:
		s.log.Debug("client went away", "path", r.URL.Path, "err", err)
		w.WriteHeader(statusClientClosed)
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("query timed out", "path", r.URL.Path, "timeout", s.cfg.QueryTimeout, "err", err)
		writeProblem(w, r, http.StatusGatewayTimeout, fmt.Sprintf("the query did not finish within %s", s.cfg.QueryTimeout), nil)
	default:
		s.log.Error("query failed", "path", r.URL.Path, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, "internal error; see the server log", nil)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeBody(w, code, "application/json", v)
}

func writeProblem(w http.ResponseWriter, r *http.Request, code int, detail string, invalid query.InvalidParams) {
	writeBody(w, code, "application/problem+json", Problem{
		Type: "about:blank", Title: http.StatusText(code), Status: code,
		Detail: detail, Instance: r.URL.Path, InvalidParams: invalid,
	})
}

func writeBody(w http.ResponseWriter, code int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only unsupported values (NaN, channels) fail; none are in the API types.
		code = http.StatusInternalServerError
		body = fmt.Appendf(nil, `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":%q}`, "encode response: "+err.Error())
		contentType = "application/problem+json"
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	writeProblem(w, r, http.StatusMethodNotAllowed, "the console API is read-only", nil)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusNotFound, "no such route", nil)
}
