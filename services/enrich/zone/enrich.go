package zone

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// Enrich fills ev.Src, ev.Dst, ev.Flow, ev.Maint and ev.ModelVersion from the
// index. Endpoints are resolved by address, then hardware address, and — for
// the source of an event with neither address (a device's own log line) — by
// ev.Host (see Resolve). Flow's conduit verdict is evaluated only when the
// event has both addresses; its derived fields are set whenever both
// endpoints are resolved: PurdueDelta (source minus destination level, 0 when
// either is unknown) and SafetyInvolved (either endpoint is a safety
// system). NewPair is left false (see Pairs). Maint describes the
// destination — or, for an event without addresses, the source host — at the
// event time (ev.Time, or ev.ReceivedAt when the event has none), for the work
// of the source asset and ev.User.
func (ix *Index) Enrich(ev *event.Event) {
	sr, dr := ix.resolveEnds(&ev.Src, &ev.Dst, ev.SrcIP, ev.SrcMAC, srcHost(ev), ev.DstIP, ev.DstMAC)
	ix.flow(ev, sr, dr)
	ix.finish(ev, sr, dr)
}

// srcHost is the host name by which the source of ev is resolved: ev.Host
// for an event with neither address, else "".
func srcHost(ev *event.Event) string {
	if ev.SrcIP == "" && ev.DstIP == "" {
		return ev.Host
	}
	return ""
}

// flow sets ev.Flow to the conduit verdict of ev's resolved endpoints (sr
// and dr are their refs), or to no verdict when ev lacks an address.
func (ix *Index) flow(ev *event.Event, sr, dr ref) {
	if ev.SrcIP == "" || ev.DstIP == "" {
		ev.Flow = event.Flow{}
		return
	}
	c := Conn{
		Proto:     ev.Proto,
		Port:      ev.DstPort,
		AppProto:  ev.AppProto,
		Operation: ev.Operation,
		Time:      eventTime(ev),
		User:      ev.User,
	}
	// The allowed verdicts of check, written in place.
	if si, di := sr.zone, dr.zone; si >= 0 && di >= 0 {
		if si == di {
			ev.Flow = event.Flow{Allowed: true}
			return
		}
		ds := ix.dir[int(si)*ix.nzones+int(di)]
		for i := range ds {
			if d := &ds[i]; ix.allows(d, &ev.Src, &ev.Dst, sr, dr, &c) {
				ev.Flow = event.Flow{CrossZone: true, Allowed: true, Conduit: d.conduit, FlowID: d.id}
				return
			}
		}
	}
	ev.Flow = ix.check(&ev.Src, &ev.Dst, sr, dr, &c)
}

// finish completes the enrichment of ev after its endpoints and flow:
// Maint, the derived flow fields and ModelVersion.
func (ix *Index) finish(ev *event.Event, sr, dr ref) {
	target, tr := &ev.Dst, dr
	if !HasZone(ev.Dst) && srcHost(ev) != "" {
		target, tr = &ev.Src, sr
	}
	w, _ := ix.openWindow(&ev.Src, target, tr, ev.User, eventTime(ev), ev.Operation)
	ev.Maint = maint(w)
	ev.Flow.SafetyInvolved = ev.Src.Safety || ev.Dst.Safety
	if HasZone(ev.Src) && HasZone(ev.Dst) {
		ev.Flow.PurdueDelta = ev.Src.Purdue - ev.Dst.Purdue
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

// NewSet indexes every model (in parallel); two models with the same site id
// are an error.
func NewSet(models ...*site.Model) (*Set, error) {
	s := &Set{sites: make(map[string]*Index, len(models))}
	for _, m := range models {
		if _, dup := s.sites[m.Site.ID]; dup {
			return nil, fmt.Errorf("two site models for site %q", m.Site.ID)
		}
		s.sites[m.Site.ID] = nil
	}
	ixs := make([]*Index, len(models))
	errs := make([]error, len(models))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(models)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ixs[i], errs[i] = New(models[i])
			}
		}()
	}
	for i := range models {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, ix := range ixs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		s.sites[ix.site] = ix
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
