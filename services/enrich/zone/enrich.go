package zone

import (
	"fmt"
	"slices"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Enrich fills ev.Src, ev.Dst, ev.Flow, ev.Maint and ev.ModelVersion from the
// index. Flow is evaluated only when the event has both addresses (it is the
// zero Flow otherwise); Maint describes the destination at the event time
// (ev.Time, or ev.ReceivedAt when the event has none).
func (ix *Index) Enrich(ev *event.Event) {
	ev.Src = ix.Endpoint(ev.SrcIP)
	ev.Dst = ix.Endpoint(ev.DstIP)
	at := eventTime(ev)
	ev.Maint = ix.Maintenance(ev.Dst, at, ev.Operation)
	if ev.SrcIP != "" && ev.DstIP != "" {
		ev.Flow = ix.Check(ev.Src, ev.Dst, Conn{
			Proto:     ev.Proto,
			Port:      ev.DstPort,
			AppProto:  ev.AppProto,
			Operation: ev.Operation,
			Time:      at,
		})
	} else {
		ev.Flow = event.Flow{}
	}
	ev.ModelVersion = ix.version
}

func eventTime(ev *event.Event) time.Time {
	if ev.Time.IsZero() {
		return ev.ReceivedAt
	}
	return ev.Time
}

// EnrichUnknownSite fills an event whose site has no model: both endpoints
// get the Unknown context, Flow says why no verdict is possible, Maint is
// inactive and ModelVersion is 0.
func EnrichUnknownSite(ev *event.Event) {
	ev.Src = Unknown(ev.SrcIP)
	ev.Dst = Unknown(ev.DstIP)
	ev.Maint = event.Maint{}
	ev.Flow = event.Flow{}
	if ev.SrcIP != "" && ev.DstIP != "" {
		ev.Flow.Violation = fmt.Sprintf("no site model for site %q", ev.Site)
	}
	ev.ModelVersion = 0
}

// Set holds the indexes of several sites, keyed by site id. It is immutable
// after NewSet and safe for concurrent use.
type Set struct {
	sites map[string]*Index
}

// NewSet indexes every model; two models with the same site id are an error.
func NewSet(models ...*site.Model) (*Set, error) {
	s := &Set{sites: make(map[string]*Index, len(models))}
	for _, m := range models {
		if _, dup := s.sites[m.Site.ID]; dup {
			return nil, fmt.Errorf("two site models for site %q", m.Site.ID)
		}
		ix, err := New(m)
		if err != nil {
			return nil, err
		}
		s.sites[m.Site.ID] = ix
	}
	return s, nil
}

// Index returns the index of a site.
func (s *Set) Index(siteID string) (*Index, bool) {
	ix, ok := s.sites[siteID]
	return ix, ok
}

// Sites returns the indexed site ids, sorted.
func (s *Set) Sites() []string {
	ids := make([]string, 0, len(s.sites))
	for id := range s.sites {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Enrich enriches ev with its site's index and reports true, or fills the
// unknown-site context (EnrichUnknownSite) and reports false when no model
// for ev.Site is loaded.
func (s *Set) Enrich(ev *event.Event) bool {
	ix, ok := s.sites[ev.Site]
	if !ok {
		EnrichUnknownSite(ev)
		return false
	}
	ix.Enrich(ev)
	return true
}
