package zone

import (
	"time"

	"github.com/c981/c981/services/shared/event"
	"github.com/c981/c981/services/shared/site"
)

// The read API of an index: the site model it was built from, for the
// console and the respond stage. Returned models, slices and pointers are
// shared with the index and must not be modified.

// Model returns the validated site model of the index.
func (ix *Index) Model() *site.Model { return ix.model }

// Location returns the site's time zone.
func (ix *Index) Location() *time.Location { return ix.loc }

// Zones returns the site's zones in model order.
func (ix *Index) Zones() []site.Zone { return ix.model.Zones }

// Conduits returns the site's conduits in model order.
func (ix *Index) Conduits() []site.Conduit { return ix.model.Conduits }

// Assets returns the site's assets in model order.
func (ix *Index) Assets() []site.Asset { return ix.model.Assets }

// Windows returns the site's maintenance windows in model order.
func (ix *Index) Windows() []site.MaintenanceWindow { return ix.model.MaintenanceWindows }

// Zone returns the zone with the given id.
func (ix *Index) Zone(id string) (*site.Zone, bool) {
	ze, ok := ix.zones[id]
	if !ok {
		return nil, false
	}
	return ze.zone, true
}

// Asset returns the asset with the given id; its Response field holds the
// response constraints (forbidden actions, required approvers).
func (ix *Index) Asset(id string) (*site.Asset, bool) {
	ae, ok := ix.assetByID(id)
	if !ok {
		return nil, false
	}
	return ae.asset, true
}

// Response returns the response constraints of the asset with the given id.
func (ix *Index) Response(assetID string) (site.ResponseConstraints, bool) {
	ae, ok := ix.assetByID(assetID)
	if !ok {
		return site.ResponseConstraints{}, false
	}
	return ae.asset.Response, true
}

// Window returns the maintenance window with the given id and its compiled
// schedule.
func (ix *Index) Window(id string) (*site.MaintenanceWindow, site.Schedule, bool) {
	w, ok := ix.windows[id]
	if !ok {
		return nil, site.Schedule{}, false
	}
	return w.w, w.sched, true
}

// OpenWindows returns the ids of the windows open at t covering the endpoint
// (by asset or zone), in model order.
func (ix *Index) OpenWindows(ep event.Endpoint, t time.Time) []string {
	var ids []string
	for i := range ix.model.MaintenanceWindows {
		w := ix.windows[ix.model.MaintenanceWindows[i].ID]
		if _, _, open := w.sched.Open(t); !open {
			continue
		}
		if covers(w.w, ep) {
			ids = append(ids, w.w.ID)
		}
	}
	return ids
}

func covers(w *site.MaintenanceWindow, ep event.Endpoint) bool {
	for _, a := range w.Scope.Assets {
		if ep.AssetID != "" && a == ep.AssetID {
			return true
		}
	}
	for _, z := range w.Scope.Zones {
		if HasZone(ep) && z == ep.Zone {
			return true
		}
	}
	return false
}

// Models returns the site models of the set, sorted by site id.
func (s *Set) Models() []*site.Model {
	ids := s.Sites()
	ms := make([]*site.Model, len(ids))
	for i, id := range ids {
		ms[i] = s.sites[id].model
	}
	return ms
}

// Asset returns the asset with the given id in the given site.
func (s *Set) Asset(siteID, assetID string) (*site.Asset, bool) {
	ix, ok := s.sites[siteID]
	if !ok {
		return nil, false
	}
	return ix.Asset(assetID)
}
