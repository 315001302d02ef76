package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/c981/c981/services/console/query"
	"github.com/c981/c981/services/console/report"
	"github.com/c981/c981/services/shared/site"
	"github.com/goccy/go-yaml"
)

// reportRoles may read the ISMS reports (incident reports, NIS2 clocks,
// period summaries): the ISMS owner who files them, managers and admins,
// auditors (read-only everywhere) and SOC analysts, who prepare the
// technical content and must see the NIS2 deadlines. Operators and control
// and safety engineers get 403: they see incidents and plans through the
// incident routes, regulatory reporting is not their task.
var reportRoles = []string{RoleAnalyst, RoleManager, RoleISMSOwner, RoleAdmin, RoleAuditor}

// reportNow is the clock the NIS2 clocks are evaluated against (tests
// replace it).
var reportNow = time.Now

// Report formats of GET /api/incidents/{id}/report.
const (
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

var reportParams = []string{"format"}

func (s *Service) getReport(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r.URL.RawQuery, reportParams)
	format := p.str("format")
	switch format {
	case "", FormatJSON:
		format = FormatJSON
	case FormatMarkdown:
	default:
		p.bad = append(p.bad, query.ParamError{Param: "format", Reason: "must be json or markdown"})
	}
	if err := p.err(nil); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	d, err := s.db.GetReportData(ctx, r.PathValue("id"))
	if err == nil {
		// Another site's incident is answered like an unknown one.
		if id, _ := IdentityFrom(r.Context()); !id.CanSee(d.Incident.Site) {
			err = query.ErrNotFound
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := d.ReportInput()
	in.Now = reportNow()
	if in.Site, err = s.siteModel(d.Incident.Site); err != nil {
		s.fail(w, r, err)
		return
	}
	rep := report.Build(in)
	if format == FormatJSON {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	body := rep.Markdown()
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="incident-`+d.Incident.ID+`-report.md"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

var nis2Params = []string{"site"}

func (s *Service) nis2Report(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r.URL.RawQuery, nis2Params)
	id, _ := IdentityFrom(r.Context())
	f := query.ReportFilter{Site: p.str("site"), Sites: id.Scope()}
	if err := p.err(nil); err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Site != "" && !id.CanSee(f.Site) {
		writeProblem(w, r, http.StatusNotFound, "no site with this id", nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	items, err := s.db.NIS2Items(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	locs := map[string]*time.Location{}
	for _, it := range items {
		if _, ok := locs[it.Incident.Site]; ok {
			continue
		}
		m, err := s.siteModel(it.Incident.Site)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		locs[it.Incident.Site] = modelLocation(m)
	}
	writeJSON(w, http.StatusOK, report.NIS2Overview(items, reportNow(), func(site string) *time.Location { return locs[site] }))
}

var summaryParams = []string{"site", "from", "to"}

func (s *Service) summaryReport(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r.URL.RawQuery, summaryParams)
	id, _ := IdentityFrom(r.Context())
	f := query.ReportFilter{Site: p.str("site"), Sites: id.Scope(), From: p.time("from"), To: p.time("to")}
	if err := p.err(f.ValidateSummary()); err != nil {
		s.fail(w, r, err)
		return
	}
	if !id.CanSee(f.Site) {
		writeProblem(w, r, http.StatusNotFound, "no site with this id", nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	items, err := s.db.SummaryItems(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.siteModel(f.Site)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report.Summarize(f.Site, report.Period{From: f.From, To: f.To}, items, reportNow(), modelLocation(m)))
}

func modelLocation(m *site.Model) *time.Location {
	if m == nil {
		return time.UTC
	}
	return m.Location()
}

// siteModels caches the site.Model of each loaded site view: the service
// keeps its models in their JSON form (siteView), the reports need the
// typed model (zones, assets, time zone). Views never change after New.
var siteModels sync.Map // *siteView -> *site.Model

// siteModel returns the loaded model of site, nil when the console has no
// model of it (reports then carry only what the incident records).
func (s *Service) siteModel(id string) (*site.Model, error) {
	v, ok := s.sites[id]
	if !ok {
		return nil, nil
	}
	if m, ok := siteModels.Load(v); ok {
		return m.(*site.Model), nil
	}
	data, err := yaml.Marshal(map[string]any{
		"version": v.summary.ModelVersion, "site": v.summary.Site,
		"zones": v.lists["zones"], "conduits": v.lists["conduits"], "assets": v.lists["assets"],
		"maintenance_windows": v.lists["windows"],
	})
	if err != nil {
		return nil, fmt.Errorf("site %s: encode model: %w", id, err)
	}
	m, err := site.Parse(id, data)
	if err != nil {
		return nil, fmt.Errorf("site %s: decode model: %w", id, err)
	}
	siteModels.Store(v, m)
	return m, nil
}
