package console

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/c981/c981/services/shared/site"
	"github.com/goccy/go-yaml"
)

// SiteSummary is one site of GET /api/sites and the body of
// GET /api/sites/{site}: the site header of its model plus the sizes of its
// lists.
type SiteSummary struct {
	// ID is the site id.
	ID string `json:"id"`
	// ModelVersion is the version of the loaded model.
	ModelVersion int `json:"model_version"`
	// Site is the model's site section (name, timezone, nis2, areas) with
	// the field names of the model file.
	Site any `json:"site"`
	// Zones, Conduits, Assets and Windows count the model's lists.
	Zones    int `json:"zones"`
	Conduits int `json:"conduits"`
	Assets   int `json:"assets"`
	Windows  int `json:"maintenance_windows"`
}

// SitesResponse is the body of GET /api/sites.
type SitesResponse struct {
	// Sites are the caller's sites, by id.
	Sites []SiteSummary `json:"sites"`
}

// SiteListResponse is the body of GET /api/sites/{site}/{zones, conduits,
// assets, windows}: one list of the model, with the field names of the
// model file.
type SiteListResponse struct {
	// Site is the site id.
	Site string `json:"site"`
	// ModelVersion is the version of the loaded model.
	ModelVersion int `json:"model_version"`
	// Items are the zones, conduits, assets or maintenance windows.
	Items []any `json:"items"`
}

// siteView is a loaded site model in its JSON form.
type siteView struct {
	summary SiteSummary
	lists   map[string][]any // zones, conduits, assets, windows
}

// siteViews converts models into their JSON views. The model types carry
// only YAML tags, so each model is re-encoded as YAML and decoded into
// generic values: the API then uses exactly the field names of the model
// files, without a second set of types to keep in step.
func siteViews(models []*site.Model) (map[string]*siteView, []string, error) {
	views := map[string]*siteView{}
	var ids []string
	for _, m := range models {
		data, err := yaml.Marshal(m)
		if err != nil {
			return nil, nil, fmt.Errorf("site %s: encode model: %w", m.Site.ID, err)
		}
		var generic struct {
			Site     any   `yaml:"site"`
			Zones    []any `yaml:"zones"`
			Conduits []any `yaml:"conduits"`
			Assets   []any `yaml:"assets"`
			Windows  []any `yaml:"maintenance_windows"`
		}
		if err := yaml.Unmarshal(data, &generic); err != nil {
			return nil, nil, fmt.Errorf("site %s: decode model: %w", m.Site.ID, err)
		}
		v := &siteView{
			summary: SiteSummary{
				ID: m.Site.ID, ModelVersion: m.Version, Site: generic.Site,
				Zones: len(m.Zones), Conduits: len(m.Conduits), Assets: len(m.Assets), Windows: len(m.MaintenanceWindows),
			},
			lists: map[string][]any{
				"zones": nonNilAny(generic.Zones), "conduits": nonNilAny(generic.Conduits),
				"assets": nonNilAny(generic.Assets), "windows": nonNilAny(generic.Windows),
			},
		}
		views[m.Site.ID] = v
		ids = append(ids, m.Site.ID)
	}
	slices.Sort(ids)
	return views, ids, nil
}

func nonNilAny(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

func (s *Service) listSites(w http.ResponseWriter, r *http.Request) {
	if !noQuery(s, w, r) {
		return
	}
	id, _ := IdentityFrom(r.Context())
	out := SitesResponse{Sites: []SiteSummary{}}
	for _, sid := range s.siteIDs {
		if id.CanSee(sid) {
			out.Sites = append(out.Sites, s.sites[sid].summary)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// site returns the view of the {site} path value if the caller may see it,
// else answers 404 (the same for unknown sites and those of others).
func (s *Service) site(w http.ResponseWriter, r *http.Request) (*siteView, bool) {
	if !noQuery(s, w, r) {
		return nil, false
	}
	id, _ := IdentityFrom(r.Context())
	sid := r.PathValue("site")
	v, ok := s.sites[sid]
	if !ok || !id.CanSee(sid) {
		writeProblem(w, r, http.StatusNotFound, "no site with this id", nil)
		return nil, false
	}
	return v, true
}

func (s *Service) getSite(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.site(w, r); ok {
		writeJSON(w, http.StatusOK, v.summary)
	}
}

// siteList serves one list of a site model.
func (s *Service) siteList(list string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v, ok := s.site(w, r); ok {
			writeJSON(w, http.StatusOK, SiteListResponse{Site: v.summary.ID, ModelVersion: v.summary.ModelVersion, Items: v.lists[list]})
		}
	}
}
